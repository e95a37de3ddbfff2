package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Pipeline is a pipeline row together with what its GitLab entity shows of
// its project and user, so that one query renders it.
type Pipeline struct {
	ID                 int64           `db:"id" json:"id"`
	IID                int64           `db:"iid" json:"iid"`
	ProjectID          int64           `db:"project_id" json:"project_id"`
	ProjectPath        string          `db:"project_path" json:"project_path"`
	EventID            *string         `db:"event_id" json:"event_id,omitempty"`
	SHA                string          `db:"sha" json:"sha"`
	BeforeSHA          string          `db:"before_sha" json:"before_sha"`
	Ref                string          `db:"ref" json:"ref"`
	Tag                bool            `db:"tag" json:"tag"`
	Status             string          `db:"status" json:"status"`
	Warnings           bool            `db:"warnings" json:"warnings,omitempty"`
	Source             string          `db:"source" json:"source"`
	YAMLErrors         *string         `db:"yaml_errors" json:"yaml_errors"`
	FailureReason      *string         `db:"failure_reason" json:"failure_reason"`
	UserID             *int64          `db:"user_id" json:"user_id"`
	UserUsername       *string         `db:"user_username" json:"user_username"`
	UserName           *string         `db:"user_name" json:"user_name"`
	UserState          *string         `db:"user_state" json:"user_state"`
	TriggerID          *int64          `db:"trigger_id" json:"trigger_id"`
	UpstreamJobID      *int64          `db:"upstream_job_id" json:"upstream_job_id"`
	UpstreamPipelineID *int64          `db:"upstream_pipeline_id" json:"upstream_pipeline_id"`
	UpstreamProjectID  *int64          `db:"upstream_project_id" json:"upstream_project_id"`
	Inputs             json.RawMessage `db:"inputs" json:"inputs,omitempty"`
	Coverage           *string         `db:"coverage" json:"coverage"`
	CreatedAt          time.Time       `db:"created_at" json:"created_at"`
	UpdatedAt          time.Time       `db:"updated_at" json:"updated_at"`
	StartedAt          *time.Time      `db:"started_at" json:"started_at"`
	FinishedAt         *time.Time      `db:"finished_at" json:"finished_at"`
	CommittedAt        *time.Time      `db:"committed_at" json:"committed_at"`
	Duration           *int            `db:"duration" json:"duration"`
	QueuedDuration     *int            `db:"queued_duration" json:"queued_duration"`
}

// pipelineColumns are a Pipeline's columns of rows pl (of pipelines) joined
// with pipelineJoins.
const (
	pipelineColumns = `pl.id, pl.iid, pl.project_id, p.path_with_namespace AS project_path, pl.event_id, pl.sha,
	pl.before_sha, pl.ref, pl.tag, pl.status, pl.warnings, pl.source, pl.yaml_errors, pl.failure_reason, pl.user_id,
	u.username AS user_username, u.name AS user_name, u.state AS user_state, pl.trigger_id, pl.upstream_job_id,
	pl.upstream_pipeline_id, pl.upstream_project_id, pl.inputs, pl.coverage, pl.created_at, pl.updated_at,
	pl.started_at, pl.finished_at, pl.committed_at, pl.duration, pl.queued_duration`
	pipelineJoins  = ` JOIN projects p ON p.id = pl.project_id LEFT JOIN users u ON u.id = pl.user_id`
	pipelineSelect = `SELECT ` + pipelineColumns + ` FROM pipelines pl` + pipelineJoins
)

// PipelineByID returns a project's pipeline.
func (q *Queries) PipelineByID(ctx context.Context, projectID, id int64) (Pipeline, error) {
	return collectOne[Pipeline](q.db.Query(ctx, pipelineSelect+` WHERE pl.project_id = $1 AND pl.id = $2`, projectID, id))
}

// PipelineByEventID returns the pipeline a trigger event created.
func (q *Queries) PipelineByEventID(ctx context.Context, eventID string) (Pipeline, error) {
	return collectOne[Pipeline](q.db.Query(ctx, pipelineSelect+` WHERE pl.event_id = $1`, eventID))
}

// PipelineFilter selects pipelines as GitLab's list endpoint does.
type PipelineFilter struct {
	ProjectID                   int64
	Source                      string
	Ref                         string
	Status                      string
	SHA                         string
	Username                    string
	Scope                       string // running, pending, finished, branches, tags
	OrderBy                     string // id, status, ref, updated_at, user_id
	Sort                        string // asc, desc
	UpdatedAfter, UpdatedBefore *time.Time
}

// ListPipelines returns a page of pipelines matching f and how many match.
func (q *Queries) ListPipelines(ctx context.Context, f PipelineFilter, page Page) ([]Pipeline, int, error) {
	where := []string{"pl.project_id = $1"}
	args := []any{f.ProjectID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Source != "" {
		add("pl.source = $%d", f.Source)
	}
	if f.Ref != "" {
		add("pl.ref = $%d", f.Ref)
	}
	if f.Status != "" {
		add("pl.status = $%d", f.Status)
	}
	if f.SHA != "" {
		add("pl.sha = $%d", f.SHA)
	}
	if f.Username != "" {
		add("lower(u.username) = lower($%d)", f.Username)
	}
	if f.UpdatedAfter != nil {
		add("pl.updated_at > $%d", *f.UpdatedAfter)
	}
	if f.UpdatedBefore != nil {
		add("pl.updated_at < $%d", *f.UpdatedBefore)
	}
	switch f.Scope {
	case "running", "pending":
		add("pl.status = $%d", f.Scope)
	case "finished":
		where = append(where, "pl.status IN ('success','failed','canceled','skipped')")
	case "branches":
		where = append(where, "NOT pl.tag")
	case "tags":
		where = append(where, "pl.tag")
	}
	order := map[string]string{"id": "pl.id", "status": "pl.status", "ref": "pl.ref", "updated_at": "pl.updated_at", "user_id": "pl.user_id"}[f.OrderBy]
	if order == "" {
		order = "pl.id"
	}
	dir := "DESC"
	if f.Sort == "asc" {
		dir = "ASC"
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM pipelines pl LEFT JOIN users u ON u.id = pl.user_id WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err)
	}
	args = append(args, page.Limit(), page.Offset())
	pls, err := collectAll[Pipeline](q.db.Query(ctx, fmt.Sprintf(`%s WHERE %s ORDER BY %s %s, pl.id %s LIMIT $%d OFFSET $%d`,
		pipelineSelect, cond, order, dir, dir, len(args)-1, len(args)), args...))
	return pls, total, err
}

// Variable is a pipeline variable.
type Variable struct {
	Key          string `db:"key" json:"key"`
	Value        string `db:"value" json:"value"`
	VariableType string `db:"variable_type" json:"variable_type"`
}

// PipelineVariables returns the variables a pipeline was created with, in
// key order.
func (q *Queries) PipelineVariables(ctx context.Context, pipelineID int64) ([]Variable, error) {
	return collectAll[Variable](q.db.Query(ctx, `SELECT key, value, variable_type FROM pipeline_variables WHERE pipeline_id = $1 ORDER BY key`, pipelineID))
}

// Rejection is the answer the dispatcher gave to a trigger event that created
// no pipeline.
type Rejection struct {
	EventID   string          `db:"event_id"`
	ProjectID int64           `db:"project_id"`
	Status    int             `db:"status"`
	Body      json.RawMessage `db:"body"`
}

// RejectionByEventID returns the rejection recorded for an event.
func (q *Queries) RejectionByEventID(ctx context.Context, eventID string) (Rejection, error) {
	var r Rejection
	var body string
	err := q.db.QueryRow(ctx, `SELECT event_id, project_id, status, body FROM trigger_rejections WHERE event_id = $1`, eventID).
		Scan(&r.EventID, &r.ProjectID, &r.Status, &body)
	r.Body = json.RawMessage(body)
	return r, mapErr(err)
}

// EventResult returns what became of a trigger event: the pipeline it
// created, or the rejection recorded for it; both nil while undecided.
func (q *Queries) EventResult(ctx context.Context, eventID string) (*Pipeline, *Rejection, error) {
	// Nearly every event is new: one round trip says so.
	var decided bool
	if err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pipelines WHERE event_id = $1)
		OR EXISTS (SELECT 1 FROM trigger_rejections WHERE event_id = $1)`, eventID).Scan(&decided); err != nil {
		return nil, nil, mapErr(err)
	}
	if !decided {
		return nil, nil, nil
	}
	pl, err := q.PipelineByEventID(ctx, eventID)
	if err == nil {
		return &pl, nil, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	rej, err := q.RejectionByEventID(ctx, eventID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return nil, &rej, nil
}

// PipelineByIDAnyProject returns a pipeline wherever it lives, for links
// between projects (a bridge's downstream, a pipeline's upstream).
func (q *Queries) PipelineByIDAnyProject(ctx context.Context, id int64) (Pipeline, error) {
	return collectOne[Pipeline](q.db.Query(ctx, pipelineSelect+` WHERE pl.id = $1`, id))
}
