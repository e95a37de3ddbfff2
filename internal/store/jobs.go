package store

import (
	"context"
	"encoding/json"
	"time"
)

// Job is a job or bridge row with what its GitLab entity shows of its
// pipeline, project and user.
type Job struct {
	ID                   int64           `db:"id"`
	PipelineID           int64           `db:"pipeline_id"`
	ProjectID            int64           `db:"project_id"`
	ProjectPath          string          `db:"project_path"`
	Kind                 string          `db:"kind"`
	Name                 string          `db:"name"`
	Stage                string          `db:"stage"`
	StageIdx             int             `db:"stage_idx"`
	Status               string          `db:"status"`
	When                 string          `db:"when_"`
	AllowFailure         bool            `db:"allow_failure"`
	Spec                 json.RawMessage `db:"spec"`
	UserID               *int64          `db:"user_id"`
	Runner               *string         `db:"runner"`
	FailureReason        *string         `db:"failure_reason"`
	Coverage             *string         `db:"coverage"`
	DownstreamPipelineID *int64          `db:"downstream_pipeline_id"`
	CreatedAt            time.Time       `db:"created_at"`
	UpdatedAt            time.Time       `db:"updated_at"`
	QueuedAt             *time.Time      `db:"queued_at"`
	StartedAt            *time.Time      `db:"started_at"`
	FinishedAt           *time.Time      `db:"finished_at"`
	// Of the pipeline:
	Ref               string    `db:"ref"`
	Tag               bool      `db:"tag"`
	SHA               string    `db:"sha"`
	PipelineIID       int64     `db:"pipeline_iid"`
	PipelineStatus    string    `db:"pipeline_status"`
	PipelineSource    string    `db:"pipeline_source"`
	PipelineCreatedAt time.Time `db:"pipeline_created_at"`
	PipelineUpdatedAt time.Time `db:"pipeline_updated_at"`
	UserUsername      *string   `db:"user_username"`
	UserName          *string   `db:"user_name"`
	UserState         *string   `db:"user_state"`
}

const jobSelect = `SELECT j.id, j.pipeline_id, j.project_id, p.path_with_namespace AS project_path, j.kind, j.name, j.stage,
	j.stage_idx, j.status, j.when_, j.allow_failure, j.spec, j.user_id, j.runner, j.failure_reason, j.coverage,
	j.downstream_pipeline_id, j.created_at, j.updated_at, j.queued_at, j.started_at, j.finished_at,
	pl.ref, pl.tag, pl.sha, pl.iid AS pipeline_iid, pl.status AS pipeline_status, pl.source AS pipeline_source,
	pl.created_at AS pipeline_created_at, pl.updated_at AS pipeline_updated_at,
	u.username AS user_username, u.name AS user_name, u.state AS user_state
	FROM jobs j JOIN pipelines pl ON pl.id = j.pipeline_id JOIN projects p ON p.id = j.project_id
	LEFT JOIN users u ON u.id = j.user_id`

// JobsOfPipeline returns a pipeline's jobs (kind "build") or bridges (kind
// "bridge"), filtered by status when statuses is not empty, in stage order.
func (q *Queries) JobsOfPipeline(ctx context.Context, pipelineID int64, kind string, statuses []string, page Page) ([]Job, int, error) {
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE pipeline_id = $1 AND kind = $2
		AND (COALESCE(cardinality($3::text[]), 0) = 0 OR status = ANY($3))`, pipelineID, kind, statuses).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	jobs, err := collectAll[Job](q.db.Query(ctx, jobSelect+` WHERE j.pipeline_id = $1 AND j.kind = $2
		AND (COALESCE(cardinality($3::text[]), 0) = 0 OR j.status = ANY($3))
		ORDER BY j.id LIMIT $4 OFFSET $5`, pipelineID, kind, statuses, page.Limit(), page.Offset()))
	return jobs, total, err
}

// JobByID returns a project's job or bridge.
func (q *Queries) JobByID(ctx context.Context, projectID, id int64) (Job, error) {
	return collectOne[Job](q.db.Query(ctx, jobSelect+` WHERE j.project_id = $1 AND j.id = $2`, projectID, id))
}

// JobByTokenDigest finds the job a CI job token was issued to.
func (q *Queries) JobByTokenDigest(ctx context.Context, digest []byte) (Job, error) {
	return collectOne[Job](q.db.Query(ctx, jobSelect+` WHERE j.token_digest = $1`, digest))
}

// JobTrace returns a job's log.
func (q *Queries) JobTrace(ctx context.Context, projectID, id int64) (string, error) {
	var trace string
	err := q.db.QueryRow(ctx, `SELECT trace FROM jobs WHERE project_id = $1 AND id = $2 AND kind = 'build'`, projectID, id).Scan(&trace)
	return trace, mapErr(err)
}

// AllowlistContains reports whether jobs of source may use their CI job token
// against project.
func (q *Queries) AllowlistContains(ctx context.Context, projectID, sourceProjectID int64) (bool, error) {
	var ok bool
	err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM job_token_allowlist WHERE project_id = $1 AND source_project_id = $2)`,
		projectID, sourceProjectID).Scan(&ok)
	return ok, mapErr(err)
}
