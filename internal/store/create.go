package store

import (
	"context"
	"encoding/json"
	"slices"
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
	// TriggerPayload is TRIGGER_PAYLOAD, kept as sent.
	TriggerPayload json.RawMessage
	CommittedAt    *time.Time
	Variables      []Variable
	Jobs           []NewJob
	// Released is the state Status is in after the first processing.
	Released Released
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

// Released is the state of a new pipeline after its first processing
// (pipestate.Advance over its created jobs), which the dispatcher computes
// before inserting, so that a pipeline is written once, already released.
type Released struct {
	// Warnings is set when the pipeline shows "passed with warnings".
	Warnings bool
	// Finished is set when Status is final: the pipeline is inserted
	// started and finished at once.
	Finished bool
}

// CreatedJob is a job of a pipeline just inserted.
type CreatedJob struct {
	JobRef
	Kind   string `db:"kind"`
	Status string `db:"status"`
}

// CreatePipelines inserts pipelines, each with the next iid of its project,
// with their variables and jobs, records that their trigger tokens were
// used, and returns them as inserted, in order, and every job made. It takes
// two round trips: the pipelines' ids and iids (with the tokens' use under
// HotRowsOn), then the pipelines with their variables and jobs (and the
// tokens' use otherwise). It must run in a transaction. The projects' iid
// counter rows are locked in id order, so concurrent batches cannot deadlock
// on them; they stay locked until commit, which keeps iids free of gaps,
// unless q runs hot rows apart (HotRowsOn). A pipeline for an event that
// already has one is ErrDuplicate, and nothing is inserted.
func (q *Queries) CreatePipelines(ctx context.Context, nps []NewPipeline) ([]Pipeline, []CreatedJob, error) {
	if len(nps) == 0 {
		return nil, nil, nil
	}
	var projects, triggers []int64
	for _, np := range nps {
		projects = append(projects, np.ProjectID)
		if np.TriggerID != nil {
			triggers = append(triggers, *np.TriggerID)
		}
	}
	projects, triggers, now := sortedDistinct(projects), sortedDistinct(triggers), time.Now()
	// The tokens' use is written right after the iids when those are
	// taken apart (HotRowsOn), else with the jobs; either way after the
	// projects' rows are locked, as everywhere.
	var b Batch
	withIIDs := func(*Batch) {}
	if q.hot != nil {
		withIIDs = func(hot *Batch) { queueTouchTriggers(hot, triggers, now) }
	} else {
		queueTouchTriggers(&b, triggers, now)
	}
	ids, iids, err := q.allocateIDs(ctx, nps, projects, withIIDs)
	if err != nil {
		return nil, nil, err
	}
	parents := queueLockParents(&b, nps, projects)
	inserted := queueInsertPipelines(&b, nps, ids, iids)
	queuePipelineVariables(&b, nps, ids)
	jobs := queueJobs(&b, nps, ids)
	if err := q.Send(ctx, &b); err != nil {
		return nil, nil, err
	}
	if !parents.all() {
		return nil, nil, ErrNotFound // a project or a user is gone
	}
	byID := make(map[int64]Pipeline, len(*inserted))
	for _, pl := range *inserted {
		byID[pl.ID] = pl
	}
	pls := make([]Pipeline, len(nps))
	for i, id := range ids {
		pls[i] = byID[id]
	}
	return pls, *jobs, nil
}

// CreatePipeline is CreatePipelines for one pipeline.
func (q *Queries) CreatePipeline(ctx context.Context, np NewPipeline) (int64, error) {
	pls, _, err := q.CreatePipelines(ctx, []NewPipeline{np})
	if err != nil {
		return 0, err
	}
	return pls[0].ID, nil
}

// sortedDistinct sorts ids and drops their repeats, in place.
func sortedDistinct(ids []int64) []int64 {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// allocateIDs takes the ids of nps from the pipelines' sequence and the
// next iids of every project of nps (projects: their ids, sorted and
// distinct), in order, in one round trip with what also queues after it. The rows are locked FOR NO KEY UPDATE:
// every open transaction that inserted a pipeline holds KEY SHARE on its
// project's row (queueLockParents), which a plain FOR UPDATE would wait for.
func (q *Queries) allocateIDs(ctx context.Context, nps []NewPipeline, projects []int64, also func(b *Batch)) (ids, iids []int64, err error) {
	counts := make(map[int64]int32, len(projects))
	for _, np := range nps {
		counts[np.ProjectID]++
	}
	n := make([]int32, len(projects))
	for i, id := range projects {
		n[i] = counts[id]
	}
	type counter struct {
		ID   int64 `db:"id"`
		Last int64 `db:"pipeline_iid"`
	}
	var b Batch
	counters := queueAll[counter](&b, `WITH locked AS (SELECT id FROM projects WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE)
		UPDATE projects p SET pipeline_iid = p.pipeline_iid + c.n, last_activity_at = now()
		FROM locked JOIN unnest($1::bigint[], $2::int[]) AS c(id, n) ON c.id = locked.id
		WHERE p.id = locked.id RETURNING p.id, p.pipeline_iid`, projects, n)
	type seq struct {
		ID int64 `db:"id"`
	}
	seqs := queueAll[seq](&b, `SELECT nextval('pipelines_id_seq') AS id FROM generate_series(1, $1)`, len(nps))
	also(&b)
	if err := (&Queries{db: q.hotDB()}).Send(ctx, &b); err != nil {
		return nil, nil, err
	}
	// next is the first iid each project's pipelines take.
	next := make(map[int64]int64, len(projects))
	for _, c := range *counters {
		next[c.ID] = c.Last - int64(counts[c.ID]) + 1
	}
	ids, iids = make([]int64, len(nps)), make([]int64, len(nps))
	for i, np := range nps {
		iid, ok := next[np.ProjectID]
		if !ok {
			return nil, nil, ErrNotFound // the project is gone
		}
		ids[i], iids[i] = (*seqs)[i].ID, iid
		next[np.ProjectID]++
	}
	return ids, iids, nil
}

// queueInsertPipelines queues the insert of the pipeline rows, with the ids
// and iids allocated, and returns where they will be as inserted, joined
// as pipelineSelect reads them, in no particular order.
func queueInsertPipelines(b *Batch, nps []NewPipeline, ids, iids []int64) *[]Pipeline {
	n := len(nps)
	var (
		projectIDs                                        = make([]int64, n)
		eventIDs, yamlErrors, failureReasons              = make([]*string, n), make([]*string, n), make([]*string, n)
		shas, refs, statuses, sources                     = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		tags, warnings, finished                          = make([]bool, n), make([]bool, n), make([]bool, n)
		userIDs, triggerIDs, scheduleIDs                  = make([]*int64, n), make([]*int64, n), make([]*int64, n)
		upstreamJobs, upstreamPipelines, upstreamProjects = make([]*int64, n), make([]*int64, n), make([]*int64, n)
		inputs, payloads                                  = make([]*string, n), make([]*string, n)
		committedAt                                       = make([]*time.Time, n)
	)
	for i, np := range nps {
		projectIDs[i], shas[i], refs[i], statuses[i], sources[i] = np.ProjectID, np.SHA, np.Ref, np.Status, np.Source
		if np.EventID != "" {
			eventIDs[i] = &np.EventID
		}
		yamlErrors[i], failureReasons[i] = np.YAMLErrors, np.FailureReason
		tags[i], warnings[i], finished[i] = np.Tag, np.Released.Warnings, np.Released.Finished
		userIDs[i], triggerIDs[i], scheduleIDs[i] = np.UserID, np.TriggerID, np.ScheduleID
		upstreamJobs[i], upstreamPipelines[i], upstreamProjects[i] = np.UpstreamJobID, np.UpstreamPipelineID, np.UpstreamProjectID
		inputs[i], payloads[i] = jsonText(np.Inputs), jsonText(np.TriggerPayload)
		committedAt[i] = np.CommittedAt
	}
	return queueAll[Pipeline](b, `WITH pl AS (INSERT INTO pipelines (id, project_id, iid, event_id, sha, ref, tag, status, source, yaml_errors,
			failure_reason, user_id, trigger_id, upstream_job_id, upstream_pipeline_id, upstream_project_id, inputs, committed_at,
			trigger_payload, schedule_id, warnings, started_at, finished_at, duration, queued_duration)
		SELECT id, project_id, iid, event_id, sha, ref, tag, status, source, yaml_errors, failure_reason, user_id, trigger_id,
			upstream_job_id, upstream_pipeline_id, upstream_project_id, inputs::jsonb, committed_at, trigger_payload::json,
			schedule_id, warnings,
			CASE WHEN finished THEN now() END, CASE WHEN finished THEN now() END, CASE WHEN finished THEN 0 END, CASE WHEN finished THEN 0 END
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::text[],
			$10::text[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::text[], $17::timestamptz[],
			$18::text[], $19::bigint[], $20::bool[], $21::bool[], $22::bigint[])
			WITH ORDINALITY AS t(project_id, iid, event_id, sha, ref, tag, status, source, yaml_errors, failure_reason, user_id,
				trigger_id, upstream_job_id, upstream_pipeline_id, upstream_project_id, inputs, committed_at, trigger_payload,
				schedule_id, warnings, finished, id, ord)
		ORDER BY ord
		RETURNING *)
		SELECT `+pipelineColumns+` FROM pl`+pipelineJoins,
		projectIDs, iids, eventIDs, shas, refs, tags, statuses, sources, yamlErrors, failureReasons, userIDs, triggerIDs,
		upstreamJobs, upstreamPipelines, upstreamProjects, inputs, committedAt, payloads, scheduleIDs, warnings, finished, ids)
}

// lockedParents is what queueLockParents found.
type lockedParents struct {
	want  parentCount
	found *[]parentCount
}

type parentCount struct {
	Projects int `db:"projects"`
	Users    int `db:"users"`
}

// all reports whether every parent was there to lock.
func (p lockedParents) all() bool {
	return len(*p.found) == 1 && (*p.found)[0] == p.want
}

// queueLockParents queues locking the projects (their ids sorted and
// distinct) and users of nps FOR KEY SHARE until the transaction ends, as
// a foreign key check of each row would: a delete of one of them waits for
// the pipelines to commit, and its triggers then delete or unlink them
// (schema 0011). Once a batch, not once a row.
func queueLockParents(b *Batch, nps []NewPipeline, projects []int64) lockedParents {
	var users []int64
	for _, np := range nps {
		if np.UserID != nil {
			users = append(users, *np.UserID)
		}
	}
	users = sortedDistinct(users)
	want := parentCount{Projects: len(projects), Users: len(users)}
	found := queueAll[parentCount](b, `SELECT
			(SELECT count(*) FROM (SELECT FROM projects WHERE id = ANY($1) FOR KEY SHARE) p) AS projects,
			(SELECT count(*) FROM (SELECT FROM users WHERE id = ANY($2) FOR KEY SHARE) u) AS users`, projects, users)
	return lockedParents{want: want, found: found}
}

// queuePipelineVariables queues the insert of every pipeline's own
// variables.
func queuePipelineVariables(b *Batch, nps []NewPipeline, ids []int64) {
	var pipelineIDs []int64
	var keys, values, types []string
	for i, np := range nps {
		for _, v := range np.Variables {
			t := v.VariableType
			if t == "" {
				t = "env_var"
			}
			pipelineIDs, keys, values, types = append(pipelineIDs, ids[i]), append(keys, v.Key), append(values, v.Value), append(types, t)
		}
	}
	if len(keys) == 0 {
		return
	}
	b.queueExec(`INSERT INTO pipeline_variables (pipeline_id, key, value, variable_type)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])`, pipelineIDs, keys, values, types)
}

// queueJobs queues the insert of every pipeline's jobs, in order, with the
// timestamps their released status implies, and returns where they will
// be.
func queueJobs(b *Batch, nps []NewPipeline, ids []int64) *[]CreatedJob {
	var (
		pipelineIDs, projectIDs                      []int64
		userIDs                                      []*int64
		kinds, names, stages, statuses, whens, specs []string
		idxs                                         []int32
		allow                                        []bool
	)
	for i, np := range nps {
		for _, j := range np.Jobs {
			pipelineIDs, projectIDs, userIDs = append(pipelineIDs, ids[i]), append(projectIDs, np.ProjectID), append(userIDs, np.UserID)
			kinds, names, stages, statuses = append(kinds, j.Kind), append(names, j.Name), append(stages, j.Stage), append(statuses, j.Status)
			whens, specs, idxs, allow = append(whens, j.When), append(specs, string(j.Spec)), append(idxs, int32(j.StageIdx)), append(allow, j.AllowFailure)
		}
	}
	if len(names) == 0 {
		return new([]CreatedJob)
	}
	return queueAll[CreatedJob](b, `INSERT INTO jobs (pipeline_id, project_id, user_id, kind, name, stage, stage_idx, status, when_,
			allow_failure, spec, queued_at, finished_at)
		SELECT pl, pr, u, k, nm, st, ix, s, w, a, sp::jsonb,
			CASE WHEN s = 'pending' THEN now() END,
			CASE WHEN s IN ('success', 'failed', 'canceled', 'skipped') THEN now() END
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[],
			$10::bool[], $11::text[]) WITH ORDINALITY AS t(pl, pr, u, k, nm, st, ix, s, w, a, sp, ord)
		ORDER BY ord
		RETURNING id, pipeline_id, project_id, kind, status`,
		pipelineIDs, projectIDs, userIDs, kinds, names, stages, idxs, statuses, whens, allow, specs)
}

// jsonText is a JSON document as text for a ::json or ::jsonb cast, nil
// when empty.
func jsonText(raw json.RawMessage) *string {
	if len(raw) == 0 {
		return nil
	}
	s := string(raw)
	return &s
}
