package entity

import (
	"time"
)

// Time is a timestamp as GitLab prints it: RFC 3339 in UTC with
// milliseconds, e.g. 2016-01-07T09:53:58.235Z.
type Time struct{ time.Time }

// MarshalJSON prints t in GitLab's format.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

// TimeOf wraps a time.
func TimeOf(t time.Time) Time { return Time{t} }

// TimePtr wraps an optional time; nil stays nil (JSON null).
func TimePtr(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	return &Time{*t}
}

// Date is a calendar date as GitLab prints it (2016-01-07).
type Date struct{ time.Time }

// MarshalJSON prints d as YYYY-MM-DD.
func (d Date) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.UTC().Format("2006-01-02") + `"`), nil
}

// DatePtr wraps an optional date; nil stays nil.
func DatePtr(t *time.Time) *Date {
	if t == nil {
		return nil
	}
	return &Date{*t}
}
