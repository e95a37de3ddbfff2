package scheduler

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// CronNext is the NextFunc of GitLab schedules: a standard five-field cron
// expression (or a descriptor such as @daily) evaluated in an IANA time zone.
func CronNext(expr, zone string, after time.Time) (time.Time, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("time zone %q: %w", zone, err)
	}
	sched, err := cron.ParseStandard(expr)
	if err != nil {
		return time.Time{}, fmt.Errorf("cron %q: %w", expr, err)
	}
	return sched.Next(after.In(loc)), nil
}
