package pipestate

import (
	"slices"
	"time"
)

// Period is when one build ran, the input of [Duration]. A zero FinishedAt
// means the build is still running.
type Period struct {
	Status     string
	Retried    bool
	StartedAt  time.Time
	FinishedAt time.Time
}

// Duration is a pipeline's duration as GitLab's Gitlab::Ci::Pipeline::Duration
// computes it: the length of the union of the running periods of its latest
// builds, so parallel jobs are not counted twice and queue time between
// stages is not counted at all. A plain finished_at - started_at would count
// both the waiting for runners and manual jobs left for days.
//
// Only non-retried builds with status success, failed, running or canceled
// and a start time count; a build still running counts until now. GitLab
// includes the builds of downstream (child) pipelines and excludes bridges,
// so the caller passes those builds too. GitLab stores whole seconds; the
// caller truncates. A period that ends before it starts (clock skew) counts
// as empty.
func Duration(periods []Period, now time.Time) time.Duration {
	ps := make([]Period, 0, len(periods))
	for _, p := range periods {
		switch p.Status {
		case StatusSuccess, StatusFailed, StatusRunning, StatusCanceled:
		default:
			continue
		}
		if p.Retried || p.StartedAt.IsZero() {
			continue
		}
		if p.FinishedAt.IsZero() {
			p.FinishedAt = now
		}
		if p.FinishedAt.Before(p.StartedAt) {
			p.FinishedAt = p.StartedAt
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return 0
	}
	slices.SortFunc(ps, func(a, b Period) int { return a.StartedAt.Compare(b.StartedAt) })
	var total time.Duration
	start, end := ps[0].StartedAt, ps[0].FinishedAt
	for _, p := range ps[1:] {
		if !p.StartedAt.After(end) { // overlaps or touches the current union
			if p.FinishedAt.After(end) {
				end = p.FinishedAt
			}
			continue
		}
		total += end.Sub(start)
		start, end = p.StartedAt, p.FinishedAt
	}
	return total + end.Sub(start)
}

// QueuedDuration is how long a pipeline waited before its first job started,
// GitLab's Ci::Pipeline#queued_duration: started_at - created_at in whole
// seconds. ok is false when the pipeline has not started or waited less than
// a second, cases GitLab reports as null.
func QueuedDuration(createdAt, startedAt time.Time) (d time.Duration, ok bool) {
	if startedAt.IsZero() {
		return 0, false
	}
	d = startedAt.Sub(createdAt).Truncate(time.Second)
	return d, d != 0
}
