package cronspec

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// The embedded zone database makes every IANA name load the same way on
	// every host, including minimal container images without tzdata.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// The errors of an invalid schedule. Parse joins them when both the cron and
// the time zone are wrong, so callers test each with errors.Is and answer
// GitLab's message for each field.
var (
	ErrInvalidCron     = errors.New("cron is invalid syntax")
	ErrInvalidTimezone = errors.New("cron_timezone is invalid syntax")
)

// parser reads five fields or a descriptor, as cron.ParseStandard does.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Spec is a parsed schedule: a cron expression in a time zone. The zero
// Spec is not usable; build one with Parse.
type Spec struct {
	sched cron.Schedule
	loc   *time.Location
}

// Parse validates a schedule's cron and cron_timezone. The cron is trimmed
// first, as GitLab strips it. The error wraps ErrInvalidCron,
// ErrInvalidTimezone, or both.
func Parse(expr, zone string) (Spec, error) {
	sched, cronErr := ParseCron(expr)
	loc, zoneErr := LoadZone(zone)
	if err := errors.Join(cronErr, zoneErr); err != nil {
		return Spec{}, err
	}
	return Spec{sched: sched, loc: loc}, nil
}

// ParseCron validates a cron expression on its own. Beyond robfig's
// standard parser it refuses what GitLab does not accept: a TZ= or CRON_TZ=
// prefix (the zone is a separate field), @every intervals, and an
// expression that can never fire (30 February).
func ParseCron(expr string) (cron.Schedule, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" || strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") || strings.HasPrefix(expr, "@every") {
		return nil, ErrInvalidCron
	}
	sched, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCron, err)
	}
	// robfig gives up after five years without a match and returns the zero
	// time; every satisfiable expression matches within that from any start
	// (29 February recurs at most eight years apart only across 2100, which
	// this reference date does not reach).
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("%w: never fires", ErrInvalidCron)
	}
	return sched, nil
}

// LoadZone resolves a cron_timezone: a Rails time zone name (as GitLab's
// ActiveSupport::TimeZone accepts) or an IANA identifier. "Local" and the
// empty name are refused: a schedule must not depend on the server's zone.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, ErrInvalidTimezone
	}
	id := name
	if iana, ok := railsZones[name]; ok {
		id = iana
	}
	loc, err := time.LoadLocation(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTimezone, err)
	}
	return loc, nil
}

// Next is the first time after after at which the schedule fires, in UTC.
// It is never the zero time for a Spec from Parse.
//
// A wall-clock time that a fall-back change repeats fires once when the
// schedule names its hours: robfig matches both occurrences, and the second
// is skipped here, so that a daily schedule at 01:30 does not run twice that
// night. A schedule that fires every hour ("*/15 * * * *") keeps running in
// real time through the repeated hour, as Vixie cron does.
func (s Spec) Next(after time.Time) time.Time {
	next := s.sched.Next(after.In(s.loc))
	for i := 0; i < 4 && !next.IsZero() && !s.everyHour() && s.repeated(next); i++ {
		next = s.sched.Next(next)
	}
	return next.UTC()
}

// allHours is the bitmask of a cron hour field that lists every hour.
const allHours = 1<<24 - 1

// everyHour reports whether the schedule fires in every hour of the day.
func (s Spec) everyHour() bool {
	spec, ok := s.sched.(*cron.SpecSchedule)
	return !ok || spec.Hour&allHours == allHours
}

// repeated reports whether the wall-clock minute of t already occurred
// earlier the same night, an hour (or the half hour or two hours of a few
// zones) before: t is then the second pass through a fall-back change.
func (s Spec) repeated(t time.Time) bool {
	wall := t.In(s.loc)
	for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		e := t.Add(-d).In(s.loc)
		if e.Year() == wall.Year() && e.YearDay() == wall.YearDay() && e.Hour() == wall.Hour() && e.Minute() == wall.Minute() {
			return true
		}
	}
	return false
}

// Next parses a schedule and returns when it next fires after after, in UTC.
// Its signature is the scheduler's NextFunc.
func Next(expr, zone string, after time.Time) (time.Time, error) {
	s, err := Parse(expr, zone)
	if err != nil {
		return time.Time{}, err
	}
	return s.Next(after), nil
}
