// Package cronspec parses the cron expression and time zone of a GitLab
// pipeline schedule and computes when it next fires.
//
// A schedule's cron is a standard five-field expression (minute, hour, day
// of month, month, day of week) or one of the descriptors @yearly,
// @annually, @monthly, @weekly, @daily, @midnight and @hourly, parsed by
// github.com/robfig/cron/v3. Its cron_timezone is an IANA name
// (America/Los_Angeles) or one of the Rails names GitLab also accepts
// (Pacific Time (US & Canada)). The time zone database is embedded, so the
// answers do not depend on the host's /usr/share/zoneinfo.
//
// Times are evaluated in the schedule's zone, so daylight saving time moves
// the UTC instant of "0 9 * * *" twice a year, as GitLab's schedules do. A
// wall-clock time that a spring-forward change skips does not fire that day
// (robfig's behaviour: "30 2 * * *" in New York skips the night of the
// change); a wall-clock time that a fall-back change repeats fires once, at
// its first occurrence.
package cronspec
