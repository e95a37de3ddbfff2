package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// JobState is what pipeline processing needs of a job.
type JobState struct {
	ID           int64           `db:"id"`
	Kind         string          `db:"kind"`
	Name         string          `db:"name"`
	StageIdx     int             `db:"stage_idx"`
	Status       string          `db:"status"`
	When         string          `db:"when_"`
	AllowFailure bool            `db:"allow_failure"`
	Retried      bool            `db:"retried"`
	Needs        json.RawMessage `db:"needs"`
	ProjectID    int64           `db:"project_id"`
	PipelineID   int64           `db:"pipeline_id"`
}

// PipelineState is a pipeline locked for processing.
type PipelineState struct {
	ID         int64      `db:"id"`
	ProjectID  int64      `db:"project_id"`
	Status     string     `db:"status"`
	CreatedAt  time.Time  `db:"created_at"`
	StartedAt  *time.Time `db:"started_at"`
	FinishedAt *time.Time `db:"finished_at"`
}

// LockPipeline returns a pipeline and holds its row lock until the
// transaction ends, so that one pipeline is processed by one transaction at
// a time, whichever dispatcher runs it.
func (q *Queries) LockPipeline(ctx context.Context, id int64) (PipelineState, error) {
	return collectOne[PipelineState](q.db.Query(ctx, `SELECT id, project_id, status, created_at, started_at, finished_at
		FROM pipelines WHERE id = $1 FOR UPDATE`, id))
}

// JobStates returns every job and bridge of a pipeline, retried ones
// included, in id order.
func (q *Queries) JobStates(ctx context.Context, pipelineID int64) ([]JobState, error) {
	return collectAll[JobState](q.db.Query(ctx, `SELECT id, kind, name, stage_idx, status, when_, allow_failure, retried,
		spec -> 'needs' AS needs, project_id, pipeline_id FROM jobs WHERE pipeline_id = $1 ORDER BY id`, pipelineID))
}

// SetJobStatuses moves jobs to new statuses; a move to pending stamps
// queued_at, a move to a final status stamps finished_at.
func (q *Queries) SetJobStatuses(ctx context.Context, ids []int64, statuses []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := q.db.Exec(ctx, `UPDATE jobs j SET status = t.s, updated_at = now(),
			queued_at = CASE WHEN t.s = 'pending' THEN now() ELSE j.queued_at END,
			finished_at = CASE WHEN t.s IN ('success', 'failed', 'canceled', 'skipped') THEN now() ELSE j.finished_at END
		FROM unnest($1::bigint[], $2::text[]) AS t(id, s) WHERE j.id = t.id`, ids, statuses)
	return mapErr(err)
}

// SetPipelineStatus records a pipeline's composed status with its timing:
// started_at when it first runs, finished_at and duration when it ends.
func (q *Queries) SetPipelineStatus(ctx context.Context, id int64, status string, warnings, running, finished bool) error {
	_, err := q.db.Exec(ctx, `UPDATE pipelines SET status = $2, warnings = $5, updated_at = now(),
			started_at = CASE WHEN ($3 OR $4) AND started_at IS NULL THEN now() ELSE started_at END,
			finished_at = CASE WHEN $4 THEN now() ELSE NULL END,
			duration = CASE WHEN $4 THEN GREATEST(0, EXTRACT(EPOCH FROM now() - COALESCE(started_at, now())))::int ELSE NULL END,
			queued_duration = CASE WHEN ($3 OR $4) AND queued_duration IS NULL
				THEN GREATEST(0, EXTRACT(EPOCH FROM now() - created_at))::int ELSE queued_duration END
		WHERE id = $1`, id, status, running, finished, warnings)
	return mapErr(err)
}

// JobRef locates a job.
type JobRef struct {
	ID         int64 `db:"id"`
	PipelineID int64 `db:"pipeline_id"`
	ProjectID  int64 `db:"project_id"`
}

// PendingBuilds returns a pipeline's pending jobs (not bridges): what must
// be on the JOBS stream.
func (q *Queries) PendingBuilds(ctx context.Context, pipelineID int64) ([]JobRef, error) {
	return collectAll[JobRef](q.db.Query(ctx, `SELECT id, pipeline_id, project_id FROM jobs
		WHERE pipeline_id = $1 AND kind = 'build' AND status = 'pending' ORDER BY id`, pipelineID))
}

// Claim is a runner's claim of a job.
type Claim struct {
	JobID  int64
	Runner string
	// ID is the runner's id for this claim, the same in every retry of it;
	// empty from a runner that does not retry, whose claim is then only
	// ever granted once.
	ID string
	// Attempt numbers the retries of one claim, from 1 up.
	Attempt int
	// TokenDigest is the digest of the CI job token this answer carries.
	TokenDigest []byte
}

// ClaimJob grants a claim: it marks the pending job running for c.Runner
// with c.TokenDigest, or, when the job is already running under the same
// claim id (the answer to an earlier attempt was lost) and nothing has run
// yet, answers it again. ErrNotFound when neither holds (taken by another
// claim, canceled, finished, or gone): the runner must not run it.
//
// Answering again replaces the job's token digest, so only the token of the
// latest answer works. That is safe because a runner retries only while it
// has no answer, and it is safe against a late retry because the digest is
// replaced only by an attempt newer than the one that set it: an older
// attempt that a slow dispatcher serves after a newer one was answered
// cannot invalidate the token the runner holds. And never once the job has
// a log, which means its runner got an answer and started: the token of a
// running script is never swapped. again reports a repeated answer.
func (q *Queries) ClaimJob(ctx context.Context, c Claim) (pipelineID int64, again bool, err error) {
	var claimID *string
	if c.ID != "" {
		claimID = &c.ID
	}
	err = q.db.QueryRow(ctx, `UPDATE jobs SET status = 'running', started_at = now(), updated_at = now(), runner = $2,
			token_digest = $3, claim_id = $4, claim_attempt = $5
		WHERE id = $1 AND status = 'pending' AND kind = 'build' RETURNING pipeline_id`,
		c.JobID, c.Runner, c.TokenDigest, claimID, c.Attempt).Scan(&pipelineID)
	if err = mapErr(err); !errors.Is(err, ErrNotFound) || claimID == nil {
		return pipelineID, false, err
	}
	// Under READ COMMITTED this sees a claim committed by a concurrent
	// attempt that the first statement waited for.
	err = q.db.QueryRow(ctx, `UPDATE jobs SET token_digest = $3, claim_attempt = $5, updated_at = now()
		WHERE id = $1 AND status = 'running' AND kind = 'build' AND runner = $2 AND claim_id = $4
			AND claim_attempt < $5 AND trace = '' RETURNING pipeline_id`,
		c.JobID, c.Runner, c.TokenDigest, claimID, c.Attempt).Scan(&pipelineID)
	return pipelineID, err == nil, mapErr(err)
}

// RunContext is what running a claimed job needs besides its spec.
type RunContext struct {
	Job               Job
	Spec              JobSpec
	PipelineVariables []Variable
	// PredefinedVariables are the pipeline's predefined variables as
	// stored when it was created, for pipelines made before they were made
	// at run time; nil otherwise, and Pipeline says what to make them of.
	PredefinedVariables map[string]string
	PipelineCreatedAt   time.Time
	Pipeline            RunFacts
}

// RunFacts are what a pipeline's predefined CI/CD variables are made of
// when its jobs run, besides its project, commit, ref and user.
type RunFacts struct {
	ProjectID int64
	Source    string
	SHA       string
	Ref       string
	Tag       bool
	UserID    *int64
	// Payload is TRIGGER_PAYLOAD as the trigger sent it.
	Payload *string
	// ShortToken is the trigger token's last characters, nil when the
	// pipeline had no trigger or it was deleted since.
	ShortToken *string
}

// JobRunContext loads a job with its pipeline's variables.
func (q *Queries) JobRunContext(ctx context.Context, jobID int64) (RunContext, error) {
	var rc RunContext
	j, err := collectOne[Job](q.db.Query(ctx, jobSelect+` WHERE j.id = $1`, jobID))
	if err != nil {
		return rc, err
	}
	rc.Job = j
	if err := json.Unmarshal(j.Spec, &rc.Spec); err != nil {
		return rc, err
	}
	var pre []byte
	f := &rc.Pipeline
	if err := q.db.QueryRow(ctx, `SELECT pl.predefined_variables, pl.created_at, pl.project_id, pl.source, pl.sha, pl.ref,
			pl.tag, pl.user_id, pl.trigger_payload::text, t.short_token
		FROM pipelines pl LEFT JOIN triggers t ON t.id = pl.trigger_id WHERE pl.id = $1`, j.PipelineID).
		Scan(&pre, &rc.PipelineCreatedAt, &f.ProjectID, &f.Source, &f.SHA, &f.Ref, &f.Tag, &f.UserID, &f.Payload,
			&f.ShortToken); err != nil {
		return rc, mapErr(err)
	}
	if len(pre) > 0 {
		if err := json.Unmarshal(pre, &rc.PredefinedVariables); err != nil {
			return rc, err
		}
	}
	rc.PipelineVariables, err = q.PipelineVariables(ctx, j.PipelineID)
	return rc, err
}

// AppendTrace adds a chunk to a running job's log if it starts where the log
// ends. It reports the log's length after the call and whether it appended.
func (q *Queries) AppendTrace(ctx context.Context, jobID, offset int64, data string) (int64, bool, error) {
	var length int64
	var appended bool
	err := q.db.QueryRow(ctx, `WITH u AS (
			UPDATE jobs SET trace = trace || $3, updated_at = now()
			WHERE id = $1 AND status = 'running' AND octet_length(trace) = $2 RETURNING octet_length(trace) AS len)
		SELECT COALESCE((SELECT len FROM u), (SELECT octet_length(trace) FROM jobs WHERE id = $1)), EXISTS (SELECT 1 FROM u)`,
		jobID, offset, data).Scan(&length, &appended)
	return length, appended, mapErr(err)
}

// FinishJob records a running job's result. It returns false when the job
// was not running (a duplicate result, or the job was canceled meanwhile).
func (q *Queries) FinishJob(ctx context.Context, jobID int64, status string, exitCode int, failureReason, trace string, allowFailure bool) (bool, error) {
	var reason *string
	if failureReason != "" {
		reason = &failureReason
	}
	tag, err := q.db.Exec(ctx, `UPDATE jobs SET status = $2, exit_code = $3, failure_reason = $4, trace = $5,
			allow_failure = allow_failure OR $6, finished_at = now(), updated_at = now()
		WHERE id = $1 AND status = 'running'`, jobID, status, exitCode, reason, trace, allowFailure)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() == 1, nil
}

// RetryJobs replaces jobs with fresh attempts: each is copied as a new
// created job and marked retried, as GitLab keeps the old attempt visible.
// It returns the new jobs' ids in the order of ids. The caller holds their
// pipeline's row lock (LockPipeline), so that a delete of the pipeline
// waits and then deletes the new jobs too (schema 0011).
func (q *Queries) RetryJobs(ctx context.Context, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return collectColumn[int64](q.db.Query(ctx, `WITH old AS (
			UPDATE jobs SET retried = true, updated_at = now() WHERE id = ANY($1) AND NOT retried RETURNING *),
		ins AS (
			INSERT INTO jobs (pipeline_id, project_id, kind, name, stage, stage_idx, status, when_, allow_failure, spec, user_id)
			SELECT pipeline_id, project_id, kind, name, stage, stage_idx, 'created', when_, allow_failure, spec, user_id
			FROM old ORDER BY array_position($1, old.id) RETURNING id)
		SELECT id FROM ins ORDER BY id`, ids))
}

// FailStuckJobs fails running jobs whose runner has not been heard of since
// before cutoff (runners send a heartbeat with their log), and returns the
// pipelines to re-process.
func (q *Queries) FailStuckJobs(ctx context.Context, cutoff time.Time) ([]int64, error) {
	return collectColumn[int64](q.db.Query(ctx, `WITH failed AS (
			UPDATE jobs SET status = 'failed', failure_reason = 'stuck_or_timeout_failure',
				finished_at = now(), updated_at = now(),
				trace = trace || E'\nERROR: Job failed: the runner stopped answering (stuck_or_timeout_failure)\n'
			WHERE status = 'running' AND updated_at < $1 RETURNING pipeline_id)
		SELECT DISTINCT pipeline_id FROM failed`, cutoff))
}
