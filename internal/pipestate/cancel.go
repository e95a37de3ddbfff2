package pipestate

// Cancel returns what canceling the pipeline does to its jobs, as GitLab's
// Ci::CancelPipelineService: every job in one of GitLab's
// CANCELABLE_STATUSES (created, waiting_for_resource, preparing,
// waiting_for_callback, pending, running, scheduled) becomes canceled, in the
// order of jobs.
//
// Manual jobs are not cancelable and keep their status, so they can still be
// played after the pipeline was canceled; a manual job without allow_failure
// then keeps the pipeline "manual". Running jobs go straight to canceled:
// GitLab's intermediate "canceling" state exists only for runners that
// support graceful cancellation, which this service does not model.
func Cancel(jobs []Job) []Transition {
	var out []Transition
	for i := range jobs {
		if !jobs[i].Retried && cancelable(jobs[i].Status) {
			out = append(out, Transition{JobID: jobs[i].ID, To: StatusCanceled})
		}
	}
	return out
}

func cancelable(status string) bool {
	switch status {
	case StatusCreated, StatusWaitingForResource, StatusPreparing, StatusWaitingForCallback,
		StatusPending, StatusRunning, StatusScheduled:
		return true
	}
	return false
}
