package pipestate

// Retry returns what `POST /projects/:id/pipelines/:pipeline_id/retry` does,
// as GitLab's Ci::RetryPipelineService, so the API handler and the
// dispatcher agree on one rule set.
//
// clone lists the jobs to retry: every failed, canceled or canceling job,
// allow_failure or not. The caller creates a new attempt of each with status
// created and marks the old one Retried. reset lists every skipped job, which
// the caller sets back to created; GitLab resets all skipped jobs of the
// pipeline, not only those after a retried one, and leaves manual and
// successful jobs alone. The caller then runs [Advance] over the updated jobs.
// Both lists follow the order of jobs.
//
// GitLab also refuses to retry archived jobs and rejected deployments; this
// package does not know about either.
func Retry(jobs []Job) (clone []int64, reset []int64) {
	for i := range jobs {
		if jobs[i].Retried {
			continue
		}
		switch jobs[i].Status {
		case StatusFailed, StatusCanceled, StatusCanceling:
			clone = append(clone, jobs[i].ID)
		case StatusSkipped:
			reset = append(reset, jobs[i].ID)
		}
	}
	return clone, reset
}
