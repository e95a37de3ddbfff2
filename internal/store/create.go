package store

import (
	"context"
	"encoding/json"
	"time"
)

// NewPipeline is everything creating a pipeline writes, in one transaction.
type NewPipeline struct {
	ProjectID          int64
	EventID            string
	SHA                string
	Ref                string
	Tag                bool
	Status             string
	Source             string
	YAMLErrors         *string
	FailureReason      *string
	UserID             *int64
	TriggerID          *int64
	ScheduleID         *int64
	UpstreamJobID      *int64
	UpstreamPipelineID *int64
	UpstreamProjectID  *int64
	Inputs             json.RawMessage
	TriggerPayload     json.RawMessage
	// PredefinedVariables are the pipeline-level predefined CI/CD variables
	// (a JSON object), kept so that running a job needs no recomputation.
	PredefinedVariables json.RawMessage
	CommittedAt         *time.Time
	Variables           []Variable
	Jobs                []NewJob
}

// NewJob is a job or bridge of a new pipeline.
type NewJob struct {
	Kind         string // "build" or "bridge"
	Name         string
	Stage        string
	StageIdx     int
	Status       string
	When         string
	AllowFailure bool
	Spec         json.RawMessage
}

// CreatePipeline inserts a pipeline with the next iid of its project, its
// variables and its jobs, and returns its id. It must run in a transaction:
// the iid counter row stays locked until commit, which is what keeps iids
// free of gaps. A pipeline for the same event already existing is
// ErrDuplicate.
func (q *Queries) CreatePipeline(ctx context.Context, np NewPipeline) (int64, error) {
	var id int64
	var eventID *string
	if np.EventID != "" {
		eventID = &np.EventID
	}
	err := q.db.QueryRow(ctx, `WITH n AS (
			UPDATE projects SET pipeline_iid = pipeline_iid + 1, last_activity_at = now() WHERE id = $1 RETURNING pipeline_iid)
		INSERT INTO pipelines (project_id, iid, event_id, sha, ref, tag, status, source, yaml_errors, failure_reason,
			user_id, trigger_id, upstream_job_id, upstream_pipeline_id, upstream_project_id, inputs, committed_at, trigger_payload, predefined_variables, schedule_id)
		SELECT $1, n.pipeline_iid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 FROM n
		RETURNING id`,
		np.ProjectID, eventID, np.SHA, np.Ref, np.Tag, np.Status, np.Source, np.YAMLErrors, np.FailureReason,
		np.UserID, np.TriggerID, np.UpstreamJobID, np.UpstreamPipelineID, np.UpstreamProjectID, nullJSON(np.Inputs), np.CommittedAt,
		nullJSON(np.TriggerPayload), nullJSON(np.PredefinedVariables), np.ScheduleID,
	).Scan(&id)
	if err != nil {
		return 0, mapErr(err)
	}
	if len(np.Variables) > 0 {
		keys := make([]string, len(np.Variables))
		values := make([]string, len(np.Variables))
		types := make([]string, len(np.Variables))
		for i, v := range np.Variables {
			keys[i], values[i], types[i] = v.Key, v.Value, v.VariableType
			if types[i] == "" {
				types[i] = "env_var"
			}
		}
		if _, err := q.db.Exec(ctx, `INSERT INTO pipeline_variables (pipeline_id, key, value, variable_type)
			SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])`, id, keys, values, types); err != nil {
			return 0, mapErr(err)
		}
	}
	if len(np.Jobs) > 0 {
		n := len(np.Jobs)
		kinds, names, stages, statuses, whens := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		idxs := make([]int32, n)
		allow := make([]bool, n)
		specs := make([]string, n)
		for i, j := range np.Jobs {
			kinds[i], names[i], stages[i], statuses[i], whens[i] = j.Kind, j.Name, j.Stage, j.Status, j.When
			idxs[i], allow[i], specs[i] = int32(j.StageIdx), j.AllowFailure, string(j.Spec)
		}
		if _, err := q.db.Exec(ctx, `INSERT INTO jobs (pipeline_id, project_id, user_id, kind, name, stage, stage_idx, status, when_, allow_failure, spec)
			SELECT $1, $2, $3, k, nm, st, ix, s, w, a, sp::jsonb
			FROM unnest($4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::bool[], $11::text[])
				WITH ORDINALITY AS t(k, nm, st, ix, s, w, a, sp, ord) ORDER BY ord`,
			id, np.ProjectID, np.UserID, kinds, names, stages, idxs, statuses, whens, allow, specs); err != nil {
			return 0, mapErr(err)
		}
	}
	return id, nil
}

func nullJSON(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return raw
}
