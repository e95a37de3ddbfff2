package pipestate

// Status is the pipeline status composed from its jobs, as GitLab's atomic
// processing stores it, so that a pipeline read through this service's API
// shows what gitlab.com would show for the same jobs.
//
// Retried jobs are ignored. Precedence, first match wins:
//
//   - only skipped and allow_failure manual jobs: skipped
//   - only success, skipped, allow_failure failed/canceled and allow_failure
//     manual jobs: success
//   - only created (plus allow_failure jobs as above): created
//   - only preparing (plus allow_failure jobs): preparing
//   - only canceled, success and skipped (plus allow_failure jobs): canceled
//   - only pending, created and skipped (plus allow_failure jobs): pending
//   - any running or pending: running
//   - any waiting_for_resource, waiting_for_callback, manual (without
//     allow_failure), scheduled, preparing, in that order: that status
//   - any created: running
//   - any canceling: canceling
//   - otherwise failed; so a failed job wins over a canceled one, but a
//     blocking manual job, a scheduled job or a job still to run wins over
//     both.
//
// warnings reports whether an allow_failure job failed or was canceled, in
// which case a "success" pipeline is shown as passed with warnings. A
// pipeline with no jobs is "success", as GitLab's processing computes it.
func Status(jobs []Job) (status string, warnings bool) {
	var c composite
	for i := range jobs {
		if !jobs[i].Retried {
			c.add(jobs[i].Status, jobs[i].AllowFailure)
		}
	}
	return c.orSuccess(false), c.warnings()
}
