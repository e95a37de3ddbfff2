package pipestate

// Job statuses, as stored in GitLab's ci_builds.status. Callers store these
// strings unchanged, so the package names them once instead of repeating
// literals.
const (
	StatusCreated            = "created"
	StatusWaitingForResource = "waiting_for_resource"
	StatusPreparing          = "preparing"
	StatusWaitingForCallback = "waiting_for_callback"
	StatusPending            = "pending"
	StatusRunning            = "running"
	StatusSuccess            = "success"
	StatusFailed             = "failed"
	StatusCanceling          = "canceling"
	StatusCanceled           = "canceled"
	StatusSkipped            = "skipped"
	StatusManual             = "manual"
	StatusScheduled          = "scheduled"
)

// Values of a job's `when:` keyword. An empty When is read as WhenOnSuccess,
// GitLab's default, so callers need not fill it in for plain jobs.
const (
	WhenOnSuccess = "on_success"
	WhenOnFailure = "on_failure"
	WhenAlways    = "always"
	WhenManual    = "manual"
	WhenDelayed   = "delayed"
)

// Job is what the processing rules need of a job or bridge. The dispatcher
// fills it from its jobs table; nothing here is kept after a call returns.
type Job struct {
	ID       int64
	Name     string
	StageIdx int
	// Status is one of the Status constants.
	Status string
	// When is one of the When constants.
	When         string
	AllowFailure bool
	// Needs is nil when the job has no `needs:` keyword, so it waits for every
	// job of every earlier stage. A non-nil Needs, even empty, makes it a DAG
	// job that waits only for the named jobs; names that match no job of the
	// pipeline are ignored, as GitLab drops optional needs on absent jobs.
	// Names must be the expanded ones (`test 1/2`), as GitLab stores them.
	Needs []string
	// Retried marks an older attempt that a retry replaced. Such jobs are
	// ignored by every rule.
	Retried bool
}

// dag reports whether the job is scheduled by its needs rather than by stage,
// GitLab's scheduling_type "dag".
func (j *Job) dag() bool { return j.Needs != nil }

// Transition moves one job to a new status. To is pending, manual,
// scheduled or skipped from Advance, and canceled from Cancel.
type Transition struct {
	JobID int64
	To    string
}

// Finished reports whether a status is final (success, failed, canceled or
// skipped), GitLab's COMPLETED_STATUSES. The dispatcher uses it to decide
// whether a pipeline gets its finished_at and duration, and whether a job's
// completion should trigger processing.
func Finished(status string) bool {
	switch status {
	case StatusSuccess, StatusFailed, StatusCanceled, StatusSkipped:
		return true
	}
	return false
}
