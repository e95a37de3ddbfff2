package event

import (
	"strconv"

	"github.com/triggerd/triggerd/internal/store"
)

// Job running: a runner takes a Job from the JOBS stream, claims it from a
// dispatcher with a JobClaim request (core NATS request/reply on
// ClaimSubject, served by every dispatcher in one queue group), runs it, and
// publishes JobEvents (trace chunks, then the result) to the durable
// JOB_EVENTS stream, which the dispatchers apply.
const (
	ClaimSubject    = "trg.jobs.claim"
	ClaimQueue      = "dispatchers"
	JobEventsStream = "JOB_EVENTS"
	// JobEventSubjectPrefix is followed by the project id.
	JobEventSubjectPrefix = "jobs.events."
	JobEventsConsumer     = "dispatcher-jobs"
	// CancelSubjectPrefix is followed by a job id: the job's runner stops it.
	CancelSubjectPrefix = "trg.jobs.cancel."
)

// JobEventSubject is the subject of a project's job events.
func JobEventSubject(projectID int64) string {
	return JobEventSubjectPrefix + strconv.FormatInt(projectID, 10)
}

// CancelSubject is where a job's cancellation is announced.
func CancelSubject(jobID int64) string {
	return CancelSubjectPrefix + strconv.FormatInt(jobID, 10)
}

// JobClaim asks a dispatcher for a pending job.
type JobClaim struct {
	JobID  int64  `json:"job_id"`
	Runner string `json:"runner"`
	// ClaimID is chosen by the runner (a random UUID) for one job message
	// it is trying to claim, and sent with every retry of that claim. A
	// dispatcher that finds the job already claimed under the same id
	// answers the claim again, so a retry after a lost answer succeeds
	// while any other claim is refused.
	ClaimID string `json:"claim_id,omitempty"`
	// Attempt numbers the retries of one claim, from 1 up.
	Attempt int `json:"attempt,omitempty"`
}

// Reasons a claim is refused (JobPayload.Reason).
const (
	// ClaimRefused: the job is not the runner's to run (another claim
	// holds it, or it was canceled or finished). Final.
	ClaimRefused = "job is not pending"
	// ClaimFailed: the dispatcher could not decide (its database failed).
	// Retry the same claim.
	ClaimFailed = "claim failed; retry"
	// ClaimMalformed: the request could not be read.
	ClaimMalformed = "malformed claim"
)

// JobPayload answers a claim. When OK, the job is running in Postgres,
// Token is its fresh CI job token (valid while it runs) and Variables its
// full variable set.
type JobPayload struct {
	OK                    bool                 `json:"ok"`
	Reason                string               `json:"reason,omitempty"`
	JobID                 int64                `json:"job_id"`
	PipelineID            int64                `json:"pipeline_id"`
	ProjectID             int64                `json:"project_id"`
	Name                  string               `json:"name"`
	Stage                 string               `json:"stage"`
	Token                 string               `json:"token,omitempty"`
	Variables             []store.Variable     `json:"variables,omitempty"`
	BeforeScript          []string             `json:"before_script,omitempty"`
	Script                []string             `json:"script,omitempty"`
	AfterScript           []string             `json:"after_script,omitempty"`
	AllowFailureExitCodes []int                `json:"allow_failure_exit_codes,omitempty"`
	Artifacts             *store.ArtifactsSpec `json:"artifacts,omitempty"`
}

// Job event types.
const (
	JobEventTrace    = "trace"    // a chunk of the log (and a heartbeat)
	JobEventFinished = "finished" // the job's result
	JobEventAdvance  = "advance"  // a pipeline changed (cancel, retry, play): re-process it
)

// JobEvent is one message on JOB_EVENTS.
type JobEvent struct {
	Type       string `json:"type"`
	JobID      int64  `json:"job_id,omitempty"`
	PipelineID int64  `json:"pipeline_id"`
	ProjectID  int64  `json:"project_id"`
	Runner     string `json:"runner,omitempty"`
	// Offset is where Data starts in the job's log; a chunk whose offset is
	// not the log's current length is a duplicate or out of order and is
	// dropped, which makes redelivery harmless.
	Offset int64  `json:"offset,omitempty"`
	Data   string `json:"data,omitempty"`
	// Result, for finished events.
	Status        string `json:"status,omitempty"` // success or failed
	ExitCode      int    `json:"exit_code,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
	// AllowFailure is set when the job failed with one of its
	// allow_failure:exit_codes: failed, but not failing the pipeline.
	AllowFailure bool `json:"allow_failure,omitempty"`
	// Trace is the whole log, in finished events: it replaces what the
	// chunks built, so a lost chunk cannot leave a hole.
	Trace string `json:"trace,omitempty"`
	// ArtifactsObject names the job's artifacts archive in the ARTIFACTS
	// object store bucket (see broker.ArtifactsStore), in finished events
	// of jobs that uploaded one; ArtifactsSize is its size in bytes.
	ArtifactsObject string `json:"artifacts_object,omitempty"`
	ArtifactsSize   int64  `json:"artifacts_size,omitempty"`
}
