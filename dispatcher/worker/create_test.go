package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

const docsCI = `stages: [test, build, package]
run_tests:
  stage: test
  script: [make test]
build_package:
  stage: build
  script: [make build]
upload_package:
  stage: package
  script:
  - if [ -n "${UPLOAD_TO_S3}" ]; then make upload; fi
build_docs:
  stage: package
  script: [echo docs]
  only: [tags]
`

type fixture struct {
	pool    *pgxpool.Pool
	project int64
	token   string
	trigger store.Trigger
}

func newFixture(t *testing.T, ci string) fixture {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t)
	q := store.New(pool)
	admin, err := q.EnsureAdmin(ctx, secret.Digest("admin"))
	require.NoError(t, err)
	var projectID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO projects (namespace_id, name, path, path_with_namespace, default_branch)
		SELECT id, 'app', 'app', 'root/app', 'master' FROM namespaces WHERE owner_id = $1 RETURNING id`, admin.ID).Scan(&projectID))
	require.NoError(t, store.InTx(ctx, pool, func(q *store.Queries) error {
		_, _, err := q.CommitFiles(ctx, store.CommitRequest{ProjectID: projectID, Branch: "master", Message: "ci",
			AuthorName: "A", AuthorEmail: "a@example.com",
			Actions: []store.FileAction{{Action: "create", Path: ".gitlab-ci.yml", Content: []byte(ci)}}})
		return err
	}))
	head, err := q.RefByName(ctx, projectID, "branch", "master")
	require.NoError(t, err)
	_, err = q.CreateRef(ctx, projectID, "tag", "v1.0", head.CommitSHA, "")
	require.NoError(t, err)
	sealer, err := secret.NewSealer("k")
	require.NoError(t, err)
	tok := secret.NewTriggerToken()
	trig, err := q.CreateTrigger(ctx, store.NewTrigger{ProjectID: projectID, OwnerID: admin.ID, Description: "d",
		Digest: secret.Digest(tok), TokenEnc: sealer.Seal(tok), ShortToken: secret.ShortToken(tok)})
	require.NoError(t, err)
	return fixture{pool: pool, project: projectID, token: tok, trigger: trig}
}

func (f fixture) event(id, ref string, vars ...store.Variable) *event.TriggerRequested {
	return &event.TriggerRequested{EventID: id, ProjectID: f.project, Ref: ref, Source: "trigger",
		TriggerID: f.trigger.ID, TokenDigest: secret.Digest(f.token), Variables: vars, Payload: json.RawMessage(`{"ref":"` + ref + `"}`)}
}

func (f fixture) process(t *testing.T, ev *event.TriggerRequested) result {
	t.Helper()
	var res result
	require.NoError(t, store.InTx(context.Background(), f.pool, func(q *store.Queries) error {
		var err error
		res, err = newCreator(16, Limits{}, RateLimits{}).process(context.Background(), q, ev)
		return err
	}))
	return res
}

func TestProcessCreatesPipelineOnceAndReplaysOutcome(t *testing.T) {
	f := newFixture(t, docsCI)
	ctx := context.Background()
	ev := f.event("ev-1", "master", store.Variable{Key: "UPLOAD_TO_S3", Value: "true", VariableType: "env_var"})
	res := f.process(t, ev)
	require.Equal(t, http.StatusCreated, res.outcome.Status)
	require.NotNil(t, res.outcome.Pipeline)
	pl := res.outcome.Pipeline
	require.Equal(t, "trigger", pl.Source)
	require.Equal(t, "created", pl.Status)
	require.Equal(t, int64(1), pl.IID)
	require.Equal(t, "root", *pl.UserUsername)

	q := store.New(f.pool)
	jobs, total, err := q.JobsOfPipeline(ctx, pl.ID, "build", nil, store.Page{Number: 1, PerPage: 100})
	require.NoError(t, err)
	require.Equal(t, 3, total, "build_docs is only for tags")
	names := []string{jobs[0].Name, jobs[1].Name, jobs[2].Name}
	require.ElementsMatch(t, []string{"run_tests", "build_package", "upload_package"}, names)
	vars, err := q.PipelineVariables(ctx, pl.ID)
	require.NoError(t, err)
	require.Equal(t, []store.Variable{{Key: "UPLOAD_TO_S3", Value: "true", VariableType: "env_var"}}, vars)
	trig, err := q.TriggerByID(ctx, f.project, f.trigger.ID)
	require.NoError(t, err)
	require.NotNil(t, trig.LastUsed, "last_used is set when the token creates a pipeline")

	// A redelivery of the same event answers with the same pipeline.
	again := f.process(t, ev)
	require.Equal(t, http.StatusCreated, again.outcome.Status)
	require.Equal(t, pl.ID, again.outcome.Pipeline.ID)
	var count int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM pipelines`).Scan(&count))
	require.Equal(t, 1, count)

	// A tag pipeline includes the tags-only job.
	tagRes := f.process(t, f.event("ev-tag", "v1.0"))
	require.Equal(t, http.StatusCreated, tagRes.outcome.Status)
	require.True(t, tagRes.outcome.Pipeline.Tag)
	_, total, err = q.JobsOfPipeline(ctx, tagRes.outcome.Pipeline.ID, "build", nil, store.Page{Number: 1, PerPage: 100})
	require.NoError(t, err)
	require.Equal(t, 4, total)
}

func TestProcessRejections(t *testing.T) {
	f := newFixture(t, docsCI)
	ctx := context.Background()
	q := store.New(f.pool)

	res := f.process(t, f.event("missing-ref", "nope"))
	require.Equal(t, http.StatusBadRequest, res.outcome.Status)
	require.JSONEq(t, `{"message":{"base":["Reference not found"]}}`, string(res.outcome.Body))

	// A token deleted after the ingress accepted the event creates nothing.
	_, err := q.DeleteTrigger(ctx, f.project, f.trigger.ID)
	require.NoError(t, err)
	res = f.process(t, f.event("revoked", "master"))
	require.Equal(t, http.StatusNotFound, res.outcome.Status)
	require.JSONEq(t, `{"message":"404 Not Found"}`, string(res.outcome.Body))

	// The same answer again for the same event, from the stored rejection.
	res = f.process(t, f.event("revoked", "master"))
	require.Equal(t, http.StatusNotFound, res.outcome.Status)
	var count int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM pipelines`).Scan(&count))
	require.Equal(t, 0, count)
}

func TestProcessInvalidConfigKeepsFailedPipeline(t *testing.T) {
	f := newFixture(t, "job:\n  script: [x]\n  bogus: 1\n")
	res := f.process(t, f.event("bad-config", "master"))
	require.Equal(t, http.StatusUnprocessableEntity, res.outcome.Status)
	require.Contains(t, string(res.outcome.Body), "unknown keys: bogus")
	require.NotZero(t, res.pipelineID)
	pl, err := store.New(f.pool).PipelineByID(context.Background(), f.project, res.pipelineID)
	require.NoError(t, err)
	require.Equal(t, "failed", pl.Status)
	require.NotNil(t, pl.YAMLErrors)
}

func TestProcessNoJobs(t *testing.T) {
	f := newFixture(t, "job:\n  script: [x]\n  rules:\n    - if: $NEVER\n")
	res := f.process(t, f.event("no-jobs", "master"))
	require.Equal(t, http.StatusBadRequest, res.outcome.Status)
	require.JSONEq(t, `{"message":{"base":["Pipeline will not run for the selected trigger. The rules configuration prevented any jobs from being added to the pipeline."]}}`,
		string(res.outcome.Body))
}

func TestPredefinedVariablesDriveRules(t *testing.T) {
	f := newFixture(t, `only_triggered:
  script: [x]
  rules:
    - if: $CI_PIPELINE_SOURCE == "trigger" && $CI_PIPELINE_TRIGGERED == "true" && $DEPLOY == "yes"
`)
	res := f.process(t, f.event("no-var", "master"))
	require.Equal(t, http.StatusBadRequest, res.outcome.Status)
	res = f.process(t, f.event("with-var", "master", store.Variable{Key: "DEPLOY", Value: "yes"}))
	require.Equal(t, http.StatusCreated, res.outcome.Status)
}

// A job's predefined variables are made when it runs, and are those its
// pipeline's rules saw, TRIGGER_PAYLOAD byte for byte; a pipeline that
// stored them when it was created keeps its own.
func TestRunPredefinedMatchesCreation(t *testing.T) {
	f := newFixture(t, docsCI)
	ctx := context.Background()
	q := store.New(f.pool)
	ev := f.event("runtime", "master")
	ev.Payload = json.RawMessage(`{"variables":{"Z":"1","A":"<&>"},"ref":"master"}`)
	res := f.process(t, ev)
	require.Equal(t, http.StatusCreated, res.outcome.Status)
	pl := res.outcome.Pipeline
	require.Len(t, res.jobs, 1)

	var stored []byte
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT predefined_variables FROM pipelines WHERE id = $1`, pl.ID).Scan(&stored))
	require.Nil(t, stored, "new pipelines do not store them")

	rc, err := q.JobRunContext(ctx, res.jobs[0].ID)
	require.NoError(t, err)
	require.NoError(t, runPredefined(ctx, q, &rc))
	project, err := q.ProjectByID(ctx, f.project)
	require.NoError(t, err)
	commit, err := q.CommitBySHA(ctx, f.project, pl.SHA)
	require.NoError(t, err)
	ref, err := q.RefByName(ctx, f.project, "branch", "master")
	require.NoError(t, err)
	owner, err := q.UserByID(ctx, *pl.UserID)
	require.NoError(t, err)
	want := predefined(project, commit, ref, &owner, ev, f.trigger.ShortToken)
	require.Equal(t, want, rc.PredefinedVariables)
	require.Equal(t, `{"variables":{"Z":"1","A":"<&>"},"ref":"master"}`, rc.PredefinedVariables["TRIGGER_PAYLOAD"])
	require.Equal(t, "trigger", rc.PredefinedVariables["CI_PIPELINE_SOURCE"])
	require.Equal(t, "root", rc.PredefinedVariables["GITLAB_USER_LOGIN"])

	_, err = f.pool.Exec(ctx, `UPDATE pipelines SET predefined_variables = '{"CI_PIPELINE_SOURCE":"legacy"}' WHERE id = $1`, pl.ID)
	require.NoError(t, err)
	rc, err = q.JobRunContext(ctx, res.jobs[0].ID)
	require.NoError(t, err)
	require.NoError(t, runPredefined(ctx, q, &rc))
	require.Equal(t, map[string]string{"CI_PIPELINE_SOURCE": "legacy"}, rc.PredefinedVariables)
}

func TestRetryDelayGrowsAndIsBounded(t *testing.T) {
	require.Less(t, retryDelay(1), retryDelay(3))
	require.LessOrEqual(t, retryDelay(100), retryDelay(99)+1)
	require.Equal(t, retryDelay(100).Seconds(), 30.0)
}

// TestProcessBatch decides a batch mixing every kind of answer in one
// transaction and checks each result is what deciding it alone gives.
func TestProcessBatch(t *testing.T) {
	f := newFixture(t, docsCI)
	ctx := context.Background()
	q := store.New(f.pool)
	head, err := q.RefByName(ctx, f.project, "branch", "master")
	require.NoError(t, err)
	_, err = q.CreateRef(ctx, f.project, "branch", "dup", head.CommitSHA, "")
	require.NoError(t, err)
	_, err = q.CreateRef(ctx, f.project, "tag", "dup", head.CommitSHA, "")
	require.NoError(t, err)
	schedule := func(owner bool) int64 {
		var id int64
		require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO pipeline_schedules (project_id, owner_id, description, ref, cron, next_run_at)
			SELECT $1, CASE WHEN $2 THEN (SELECT id FROM users ORDER BY id LIMIT 1) END, 'nightly', 'refs/heads/master', '0 0 * * *', now()
			RETURNING id`, f.project, owner).Scan(&id))
		_, err := f.pool.Exec(ctx, `INSERT INTO pipeline_schedule_variables (schedule_id, key, value) VALUES ($1, 'UPLOAD_TO_S3', 'yes')`, id)
		require.NoError(t, err)
		return id
	}
	owned, orphan := schedule(true), schedule(false)
	// The owned schedule failed before: running now clears its error.
	_, err = f.pool.Exec(ctx, `UPDATE pipeline_schedules SET last_error = 'Reference not found' WHERE id = $1`, owned)
	require.NoError(t, err)
	scheduleEvent := func(id int64) *event.TriggerRequested {
		return &event.TriggerRequested{EventID: "sched-" + strconv.FormatInt(id, 10), ProjectID: f.project, Source: "schedule", ScheduleID: id}
	}
	stored := f.process(t, f.event("stored", "master"))
	require.Equal(t, http.StatusCreated, stored.outcome.Status)
	badToken := f.event("bad-token", "master")
	badToken.TokenDigest = secret.Digest("not a token")

	batch := []*event.TriggerRequested{
		f.event("branch", "master", store.Variable{Key: "UPLOAD_TO_S3", Value: "true", VariableType: "env_var"}),
		f.event("tag", "v1.0"),
		f.event("missing-ref", "nope"),
		f.event("branch", "master"), // a copy of the first
		f.event("stored", "master"),
		badToken,
		f.event("ambiguous", "dup"),
		scheduleEvent(owned),
		scheduleEvent(orphan),
	}
	var results []result
	require.NoError(t, store.InTx(ctx, f.pool, func(q *store.Queries) error {
		var err error
		results, err = newCreator(16, Limits{}, RateLimits{}).processBatch(ctx, q, batch)
		return err
	}))
	statuses := make([]int, len(results))
	for i, r := range results {
		statuses[i] = r.outcome.Status
	}
	require.Equal(t, []int{201, 201, 400, 201, 201, 404, 400, 201, 403}, statuses)
	require.JSONEq(t, `{"message":{"base":["Reference not found"]}}`, string(results[2].outcome.Body))
	require.JSONEq(t, `{"message":{"base":["Ref is ambiguous"]}}`, string(results[6].outcome.Body))
	require.Equal(t, results[0].pipelineID, results[3].pipelineID, "copies of one event share its pipeline")
	require.Equal(t, stored.pipelineID, results[4].pipelineID)

	// New pipelines answer as created, take the next iids without gaps,
	// and are stored already released: the first stage pending.
	first := results[0].outcome.Pipeline
	require.Equal(t, "created", first.Status)
	iids := []int64{results[0].outcome.Pipeline.IID, results[1].outcome.Pipeline.IID, results[7].outcome.Pipeline.IID}
	require.Equal(t, []int64{2, 3, 4}, iids)
	pl, err := q.PipelineByID(ctx, f.project, first.ID)
	require.NoError(t, err)
	require.Equal(t, "pending", pl.Status)
	jobs, _, err := q.JobsOfPipeline(ctx, first.ID, "build", nil, store.Page{Number: 1, PerPage: 100})
	require.NoError(t, err)
	byName := map[string]string{}
	for _, j := range jobs {
		byName[j.Name] = j.Status
	}
	require.Equal(t, map[string]string{"run_tests": "pending", "build_package": "created", "upload_package": "created"}, byName)
	require.Len(t, results[0].jobs, 1, "the released job is published after the commit")
	require.Equal(t, []int64{stored.pipelineID}, results[4].touched, "a stored pipeline's follow-ups are published again")

	// The schedule's pipeline has its variables; the orphan's error shows.
	schedPl := results[7].outcome.Pipeline
	require.Equal(t, "schedule", schedPl.Source)
	vars, err := q.PipelineVariables(ctx, schedPl.ID)
	require.NoError(t, err)
	require.Equal(t, []store.Variable{{Key: "UPLOAD_TO_S3", Value: "yes", VariableType: "env_var"}}, vars)
	var lastErrors []*string
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT array_agg(last_error ORDER BY id) FROM pipeline_schedules`).Scan(&lastErrors))
	require.Nil(t, lastErrors[0], "a schedule that runs again shows no error")
	require.Equal(t, msgScheduleNoOwner, *lastErrors[1])

	// Every refusal is stored, and the whole batch replays the same.
	var rejected int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM trigger_rejections`).Scan(&rejected))
	require.Equal(t, 4, rejected)
	var again []result
	require.NoError(t, store.InTx(ctx, f.pool, func(q *store.Queries) error {
		var err error
		again, err = newCreator(16, Limits{}, RateLimits{}).processBatch(ctx, q, batch)
		return err
	}))
	for i := range results {
		require.Equal(t, results[i].outcome.Status, again[i].outcome.Status, i)
		require.Equal(t, results[i].pipelineID, again[i].pipelineID, i)
	}
	var count int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM pipelines`).Scan(&count))
	require.Equal(t, 4, count)
}

func TestRateLimits(t *testing.T) {
	f := newFixture(t, docsCI)
	ctx := context.Background()
	decide := func(rate RateLimits, evs ...*event.TriggerRequested) []int {
		t.Helper()
		var results []result
		require.NoError(t, store.InTx(ctx, f.pool, func(q *store.Queries) error {
			var err error
			results, err = newCreator(16, Limits{}, rate).processBatch(ctx, q, evs)
			return err
		}))
		statuses := make([]int, len(results))
		for i, r := range results {
			statuses[i] = r.outcome.Status
			if r.outcome.Status == http.StatusBadRequest {
				require.JSONEq(t, `{"message":{"base":["Too many pipelines created in the last minute. Try again later."]}}`, string(r.outcome.Body))
			}
		}
		return statuses
	}
	evs := func(prefix string, n int, digest []byte) []*event.TriggerRequested {
		var out []*event.TriggerRequested
		for i := range n {
			ev := f.event(prefix+strconv.Itoa(i), "master")
			if digest != nil {
				ev.TokenDigest = digest
			}
			out = append(out, ev)
		}
		return out
	}
	// Three per project per minute: the batch's fourth and fifth are refused.
	require.Equal(t, []int{201, 201, 201, 400, 400}, decide(RateLimits{Project: 3}, evs("p", 5, nil)...))

	// Four per token: the first token has used three, another has none.
	sealer, err := secret.NewSealer("k")
	require.NoError(t, err)
	other := secret.NewTriggerToken()
	_, err = store.New(f.pool).CreateTrigger(ctx, store.NewTrigger{ProjectID: f.project, OwnerID: *f.trigger.OwnerID, Description: "other",
		Digest: secret.Digest(other), TokenEnc: sealer.Seal(other), ShortToken: secret.ShortToken(other)})
	require.NoError(t, err)
	batch := append(evs("a", 2, nil), evs("b", 2, secret.Digest(other))...)
	require.Equal(t, []int{201, 400, 201, 201}, decide(RateLimits{Token: 4}, batch...))
	// Refusals are answers like any other: replayed, not re-decided.
	require.Equal(t, []int{201, 400, 201, 201}, decide(RateLimits{}, batch...))
}
