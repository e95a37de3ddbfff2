package test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/secret"
)

// GitLab's access levels.
const (
	developer  = 30
	maintainer = 40
)

// Exact bodies of API.md's tables.
const (
	body404          = `{"message":"404 Not Found"}`
	body403          = `{"message":"403 Forbidden"}`
	body401          = `{"message":"401 Unauthorized"}`
	bodyRefNotFound  = `{"message":{"base":["Reference not found"]}}`
	bodyRefAmbiguous = `{"message":{"base":["Ref is ambiguous"]}}`
	bodyNoJobs       = `{"message":{"base":["Pipeline will not run for the selected trigger. The rules configuration prevented any jobs from being added to the pipeline."]}}`
	bodyV3           = `{"error":"API V3 is no longer supported. Use API V4 instead."}`
)

// noJobsCI is a config whose only job never runs.
const noJobsCI = `run_tests:
  script:
  - make test
  rules:
  - if: $NEVER
`

// onlySchedulesCI is a config whose only job runs for schedules alone.
const onlySchedulesCI = `run_tests:
  script:
  - make test
  only:
  - schedules
`

// badCI has an unknown key on a job, which GitLab refuses.
const badCI = `run_tests:
  stage: test
  script:
  - make test
  foo: bar
`

// row is one line of API.md's tables: a request and GitLab's exact answer.
type row struct {
	name string
	// before prepares the row (rows run in order, sharing one stack).
	before func(t *testing.T)
	req    func() call
	status int
	// body is the exact JSON body (trailing newline aside) when set.
	body string
	// check makes further assertions on the answer.
	check func(t *testing.T, r reply)
	// created is how many pipelines the request creates (0 for every
	// refusal).
	created int
}

// totalPipelines counts every pipeline in the stack's database.
func (s *stack) totalPipelines(t testing.TB) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM pipelines`).Scan(&n))
	return n
}

func runRows(t *testing.T, s *stack, rows []row) {
	for _, rw := range rows {
		t.Run(rw.name, func(t *testing.T) {
			if rw.before != nil {
				rw.before(t)
			}
			before := s.totalPipelines(t)
			c := rw.req()
			r := s.Do(t, c)
			require.Equal(t, rw.status, r.Status, "%s %s answered %s", c.Method, c.Path, r.Body)
			if rw.body != "" {
				require.Equal(t, rw.body, r.Text(), "%s %s", c.Method, c.Path)
				require.Contains(t, r.Header.Get("Content-Type"), "application/json")
			}
			if rw.check != nil {
				rw.check(t, r)
			}
			require.Equal(t, before+rw.created, s.totalPipelines(t), "pipelines created by %s %s", c.Method, c.Path)
		})
	}
}

// formCall is a trigger call with a form body on project id.
func formCall(projectID any, form url.Values) call {
	return call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%v/trigger/pipeline", projectID), Form: form}
}

// TestConformance checks every row of API.md's "Triggering" table and
// "Trigger tokens" section against the running service: status and exact
// body.
func TestConformance(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOpts{})
	owner := s.CreateUser(t, "owner")
	maint := s.CreateUser(t, "maint")
	dev := s.CreateUser(t, "dev")
	outsider := s.CreateUser(t, "outsider")

	p := s.CreateProject(t, owner, docsCI)
	other := s.CreateProject(t, owner, docsCI)
	s.AddMember(t, owner.Token, p.ID, maint, maintainer)
	s.AddMember(t, owner.Token, p.ID, dev, developer)

	masterSHA := s.CreateBranch(t, owner.Token, p.ID, "amb", "master")
	s.CreateTag(t, owner.Token, p.ID, "amb", "master")
	s.CreateBranch(t, owner.Token, p.ID, "nojobs", "master")
	s.CommitCI(t, owner.Token, p.ID, "nojobs", noJobsCI, true)
	s.CreateBranch(t, owner.Token, p.ID, "schedonly", "master")
	s.CommitCI(t, owner.Token, p.ID, "schedonly", onlySchedulesCI, true)
	s.CreateBranch(t, owner.Token, p.ID, "badcfg", "master")
	s.CommitCI(t, owner.Token, p.ID, "badcfg", badCI, true)

	tok := s.CreateTrigger(t, owner.Token, p.ID, "conformance").Token
	otherTok := s.CreateTrigger(t, owner.Token, other.ID, "other project").Token
	revoked := s.CreateTrigger(t, owner.Token, p.ID, "revoked")
	r := s.Do(t, call{Method: http.MethodDelete, Path: fmt.Sprintf("/projects/%d/triggers/%d", p.ID, revoked.ID), Token: owner.Token})
	require.Equal(t, http.StatusNoContent, r.Status, "revoke: %s", r.Body)
	expired := s.CreateTrigger(t, owner.Token, p.ID, "expired")
	_, err := s.DB.Exec(context.Background(), `UPDATE triggers SET expires_at = now() - interval '1 day' WHERE id = $1`, expired.ID)
	require.NoError(t, err)

	// Job tokens: a job of a pipeline in project A, marked running with a
	// token by hand (the runner that does it for real comes later). B is
	// another project of the same owner.
	projA := s.CreateProject(t, owner, docsCI)
	projB := s.CreateProject(t, owner, docsCI)
	tokA := s.CreateTrigger(t, owner.Token, projA.ID, "upstream").Token
	up := decode[pipelineJSON](t, s.TriggerPipeline(t, projA.ID, tokA, "master", nil, nil), http.StatusCreated)
	upJobs := s.PipelineJobs(t, owner.Token, projA.ID, up.ID)
	require.NotEmpty(t, upJobs)
	jobID := upJobs[0].ID
	jobToken := secret.NewJobToken()
	require.True(t, strings.HasPrefix(jobToken, "glcbt-"))
	setJob := func(t *testing.T, status string) {
		_, err := s.DB.Exec(context.Background(), `UPDATE jobs SET status = $1, token_digest = $2 WHERE id = $3`,
			status, secret.Digest(jobToken), jobID)
		require.NoError(t, err)
	}
	// pipelineOfJob checks a 201 made with the job token: source
	// "pipeline", the job's user, and the upstream link.
	pipelineOfJob := func(target int64) func(t *testing.T, r reply) {
		return func(t *testing.T, r reply) {
			pl := decode[pipelineJSON](t, r, http.StatusCreated)
			require.Contains(t, string(r.Body), `"source":"pipeline"`)
			require.Equal(t, "pipeline", pl.Source)
			require.Equal(t, target, pl.ProjectID)
			require.NotNil(t, pl.User)
			require.Equal(t, owner.Username, pl.User.Username)
			var upJob, upPipeline, upProject *int64
			require.NoError(t, s.DB.QueryRow(context.Background(),
				`SELECT upstream_job_id, upstream_pipeline_id, upstream_project_id FROM pipelines WHERE id = $1`, pl.ID).
				Scan(&upJob, &upPipeline, &upProject))
			require.NotNil(t, upJob)
			require.Equal(t, jobID, *upJob)
			require.Equal(t, up.ID, *upPipeline)
			require.Equal(t, projA.ID, *upProject)
		}
	}

	t.Run("triggering", func(t *testing.T) {
		runRows(t, s, []row{
			{
				name:   "token missing",
				req:    func() call { return formCall(p.ID, url.Values{"ref": {"master"}}) },
				status: http.StatusBadRequest, body: `{"error":"token is missing"}`,
			},
			{
				name:   "ref missing",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tok}}) },
				status: http.StatusBadRequest, body: `{"error":"ref is missing"}`,
			},
			{
				name:   "ref empty",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tok}, "ref": {""}}) },
				status: http.StatusBadRequest, body: `{"error":"ref is empty"}`,
			},
			{
				name: "variables not a hash",
				req: func() call {
					return formCall(p.ID, url.Values{"token": {tok}, "ref": {"master"}, "variables": {"x"}})
				},
				status: http.StatusBadRequest, body: `{"error":"variables is invalid"}`,
			},
			{
				name: "variable value not a string",
				req: func() call {
					return call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/trigger/pipeline", p.ID),
						JSON: fmt.Sprintf(`{"token":%q,"ref":"master","variables":{"A":1}}`, tok)}
				},
				status: http.StatusBadRequest, body: `{"message":"variables needs to be a map of key-valued strings"}`,
			},
			{
				name: "variable value a hash",
				req: func() call {
					return call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/trigger/pipeline", p.ID),
						JSON: fmt.Sprintf(`{"token":%q,"ref":"master","variables":{"A":{"B":"c"}}}`, tok)}
				},
				status: http.StatusBadRequest, body: `{"message":"variables needs to be a map of key-valued strings"}`,
			},
			{
				name: "variables a JSON array",
				req: func() call {
					return call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%d/trigger/pipeline", p.ID),
						JSON: fmt.Sprintf(`{"token":%q,"ref":"master","variables":["x"]}`, tok)}
				},
				status: http.StatusBadRequest, body: `{"error":"variables is invalid"}`,
			},
			{
				name: "unknown token",
				req: func() call {
					return formCall(p.ID, url.Values{"token": {"glptt-" + strings.Repeat("0", 40)}, "ref": {"master"}})
				},
				status: http.StatusNotFound, body: body404,
			},
			{
				name:   "revoked (deleted) token",
				req:    func() call { return formCall(p.ID, url.Values{"token": {revoked.Token}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
			{
				name:   "expired token",
				req:    func() call { return formCall(p.ID, url.Values{"token": {expired.Token}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
			{
				name:   "other project's token",
				req:    func() call { return formCall(p.ID, url.Values{"token": {otherTok}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
			{
				name:   "personal access token as token",
				req:    func() call { return formCall(p.ID, url.Values{"token": {owner.Token}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
			{
				name:   "admin personal access token as token",
				req:    func() call { return formCall(p.ID, url.Values{"token": {s.AdminToken}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
			{
				name:   "project does not exist (id)",
				req:    func() call { return formCall(999999, url.Values{"token": {tok}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
			{
				name:   "project does not exist (path)",
				req:    func() call { return formCall("nobody%2Fnothing", url.Values{"token": {tok}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
			{
				name:   "ref is a commit SHA",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tok}, "ref": {masterSHA}}) },
				status: http.StatusBadRequest, body: bodyRefNotFound,
			},
			{
				name:   "ref does not exist",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tok}, "ref": {"no-such-branch"}}) },
				status: http.StatusBadRequest, body: bodyRefNotFound,
			},
			{
				name:   "ref names both a branch and a tag",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tok}, "ref": {"amb"}}) },
				status: http.StatusBadRequest, body: bodyRefAmbiguous,
			},
			{
				name:   "no job matches (rules: if $NEVER)",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tok}, "ref": {"nojobs"}}) },
				status: http.StatusBadRequest, body: bodyNoJobs,
			},
			{
				name:   "no job matches (only: [schedules])",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tok}, "ref": {"schedonly"}}) },
				status: http.StatusBadRequest, body: bodyNoJobs,
			},
			{
				name:   "CI config invalid",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tok}, "ref": {"badcfg"}}) },
				status: http.StatusUnprocessableEntity,
				body:   `{"message":{"base":["jobs:run_tests config contains unknown keys: foo"]}}`,
				check: func(t *testing.T, r reply) {
					// The pipeline is kept, failed, with its yaml_errors.
					pls := s.ListPipelines(t, owner.Token, p.ID, "ref=badcfg")
					require.Len(t, pls, 1)
					require.Equal(t, "failed", pls[0].Status)
					pl := decode[pipelineJSON](t, s.Get(t, fmt.Sprintf("/projects/%d/pipelines/%d", p.ID, pls[0].ID), owner.Token), http.StatusOK)
					require.Equal(t, "failed", pl.Status)
					require.Equal(t, "trigger", pl.Source)
					require.NotNil(t, pl.YAMLErrors)
					require.Equal(t, "jobs:run_tests config contains unknown keys: foo", *pl.YAMLErrors)
					require.Empty(t, s.PipelineJobs(t, owner.Token, p.ID, pl.ID))
				},
				created: 1,
			},
			{
				name: "X-Gitlab-Event: Pipeline Hook",
				req: func() call {
					c := formCall(p.ID, url.Values{"token": {tok}, "ref": {"master"}})
					c.Header = map[string]string{"X-Gitlab-Event": "Pipeline Hook"}
					return c
				},
				status: http.StatusForbidden, body: body403,
			},
			{
				name: "variable key not [A-Za-z0-9_]{1,255}",
				req: func() call {
					return formCall(p.ID, url.Values{"token": {tok}, "ref": {"master"}, "variables[BAD-KEY]": {"x"}})
				},
				status: http.StatusBadRequest,
				check: func(t *testing.T, r reply) {
					require.Contains(t, r.Text(), "BAD-KEY", "the message names the key")
				},
			},
			{
				name: "variable key too long",
				req: func() call {
					return formCall(p.ID, url.Values{"token": {tok}, "ref": {"master"}, "variables[" + strings.Repeat("K", 256) + "]": {"x"}})
				},
				status: http.StatusBadRequest,
				check: func(t *testing.T, r reply) {
					require.Contains(t, r.Text(), strings.Repeat("K", 256), "the message names the key")
				},
			},
			{
				name:    "job token into its own project",
				before:  func(t *testing.T) { setJob(t, "running") },
				req:     func() call { return formCall(projA.ID, url.Values{"token": {jobToken}, "ref": {"master"}}) },
				status:  http.StatusCreated,
				check:   pipelineOfJob(projA.ID),
				created: 1,
			},
			{
				name:   "job token whose project is not on the target's allowlist",
				req:    func() call { return formCall(projB.ID, url.Values{"token": {jobToken}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
			{
				name: "job token whose project is on the target's allowlist",
				before: func(t *testing.T) {
					r := s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/job_token_scope/allowlist", projB.ID), owner.Token,
						url.Values{"target_project_id": {strconv.FormatInt(projA.ID, 10)}})
					require.Equal(t, http.StatusCreated, r.Status, "allowlist: %s", r.Body)
				},
				req:     func() call { return formCall(projB.ID, url.Values{"token": {jobToken}, "ref": {"master"}}) },
				status:  http.StatusCreated,
				check:   pipelineOfJob(projB.ID),
				created: 1,
			},
			{
				name:   "job token of a job that is not running",
				before: func(t *testing.T) { setJob(t, "success") },
				req:    func() call { return formCall(projB.ID, url.Values{"token": {jobToken}, "ref": {"master"}}) },
				status: http.StatusUnauthorized, body: `{"message":"Job is not running"}`,
			},
			{
				name:   "unknown job token",
				req:    func() call { return formCall(projB.ID, url.Values{"token": {secret.NewJobToken()}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
			{
				name:   "API v3",
				req:    func() call { return call{Method: http.MethodGet, Path: "/api/v3/anything"} },
				status: http.StatusGone, body: bodyV3,
			},
			{
				name: "API v3 trigger",
				req: func() call {
					return call{Method: http.MethodPost, Path: fmt.Sprintf("/api/v3/projects/%d/trigger/pipeline", p.ID),
						Form: url.Values{"token": {tok}, "ref": {"master"}}}
				},
				status: http.StatusGone, body: bodyV3,
			},
			{
				name:   "valid trigger (control row)",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tok}, "ref": {"master"}}) },
				status: http.StatusCreated,
				check: func(t *testing.T, r reply) {
					pl := decode[pipelineJSON](t, r, http.StatusCreated)
					require.Equal(t, "trigger", pl.Source)
				},
				created: 1,
			},
		})
	})

	t.Run("trigger tokens", func(t *testing.T) {
		base := fmt.Sprintf("/projects/%d/triggers", p.ID)
		var tr triggerJSON // made by the "create" row, owned by owner
		byID := func() string { return fmt.Sprintf("%s/%d", base, tr.ID) }
		short := func() string { return strings.TrimPrefix(tr.Token, "glptt-")[:4] }
		runRows(t, s, []row{
			{
				name: "create",
				req: func() call {
					return call{Method: http.MethodPost, Path: base, Token: owner.Token, Form: url.Values{"description": {"my trigger"}}}
				},
				status: http.StatusCreated,
				check: func(t *testing.T, r reply) {
					tr = decode[triggerJSON](t, r, http.StatusCreated)
					require.Equal(t, []string{"id", "token", "description", "created_at", "updated_at", "last_used", "expires_at", "owner"},
						topLevelKeys(t, r.Body))
					require.Regexp(t, `^glptt-[0-9a-f]{40}$`, tr.Token)
					require.Equal(t, "my trigger", tr.Description)
					require.Nil(t, tr.LastUsed)
					require.Nil(t, tr.ExpiresAt)
					require.NotNil(t, tr.Owner, "owner = caller")
					require.Equal(t, owner.ID, tr.Owner.ID)
					require.Equal(t, owner.Username, tr.Owner.Username)
					require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, tr.CreatedAt)
				},
			},
			{
				name:   "list",
				req:    func() call { return call{Method: http.MethodGet, Path: base, Token: owner.Token} },
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					list := decode[[]triggerJSON](t, r, http.StatusOK)
					var found bool
					for _, x := range list {
						require.NotEqual(t, expired.ID, x.ID, "an expired token is left out of the list")
						require.NotEqual(t, revoked.ID, x.ID, "a deleted token is gone")
						if x.ID == tr.ID {
							found = true
							require.Equal(t, tr.Token, x.Token, "full token for its owner")
							require.Equal(t, "my trigger", x.Description)
						}
					}
					require.True(t, found, "list holds the new token: %s", r.Body)
					require.Len(t, list, 2, "conformance + my trigger: %s", r.Body)
					require.Equal(t, "2", r.Header.Get("X-Total"))
					require.Equal(t, "1", r.Header.Get("X-Page"))
				},
			},
			{
				name: "list by URL-encoded project path",
				req: func() call {
					return call{Method: http.MethodGet, Path: "/projects/" + p.Enc + "/triggers", Token: owner.Token}
				},
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					require.Len(t, decode[[]triggerJSON](t, r, http.StatusOK), 2)
				},
			},
			{
				name: "create with expires_at",
				req: func() call {
					return call{Method: http.MethodPost, Path: base, Token: owner.Token,
						Form: url.Values{"description": {"expiring"}, "expires_at": {"2099-01-02T03:04:05Z"}}}
				},
				status: http.StatusCreated,
				check: func(t *testing.T, r reply) {
					got := decode[triggerJSON](t, r, http.StatusCreated)
					require.NotNil(t, got.ExpiresAt)
					require.Equal(t, "2099-01-02T03:04:05.000Z", *got.ExpiresAt)
					// Out of the way of the rows that count tokens.
					_, err := s.DB.Exec(context.Background(), `DELETE FROM triggers WHERE id = $1`, got.ID)
					require.NoError(t, err)
				},
			},
			{
				name: "list paginated",
				req: func() call {
					return call{Method: http.MethodGet, Path: base + "?per_page=1&page=1", Token: owner.Token}
				},
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					require.Len(t, decode[[]triggerJSON](t, r, http.StatusOK), 1)
					require.Equal(t, "2", r.Header.Get("X-Total"))
					require.Equal(t, "1", r.Header.Get("X-Per-Page"))
					require.Equal(t, "2", r.Header.Get("X-Next-Page"))
					require.Contains(t, r.Header.Get("Link"), `rel="next"`)
				},
			},
			{
				name:   "get",
				req:    func() call { return call{Method: http.MethodGet, Path: byID(), Token: owner.Token} },
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					got := decode[triggerJSON](t, r, http.StatusOK)
					require.Equal(t, tr.ID, got.ID)
					require.Equal(t, tr.Token, got.Token, "full token for its owner")
				},
			},
			{
				name:   "full token for an admin",
				req:    func() call { return call{Method: http.MethodGet, Path: byID(), Token: s.AdminToken} },
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					require.Equal(t, tr.Token, decode[triggerJSON](t, r, http.StatusOK).Token)
				},
			},
			{
				name:   "four characters for another Maintainer",
				req:    func() call { return call{Method: http.MethodGet, Path: byID(), Token: maint.Token} },
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					require.Equal(t, short(), decode[triggerJSON](t, r, http.StatusOK).Token)
				},
			},
			{
				name:   "four characters in another Maintainer's list",
				req:    func() call { return call{Method: http.MethodGet, Path: base, Token: maint.Token} },
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					for _, x := range decode[[]triggerJSON](t, r, http.StatusOK) {
						require.Len(t, x.Token, 4, "trigger %d", x.ID)
					}
				},
			},
			{
				name: "update by its owner",
				req: func() call {
					return call{Method: http.MethodPut, Path: byID(), Token: owner.Token, Form: url.Values{"description": {"renamed"}}}
				},
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					got := decode[triggerJSON](t, r, http.StatusOK)
					require.Equal(t, "renamed", got.Description)
					require.Equal(t, tr.Token, got.Token)
				},
			},
			{
				name: "update by another Maintainer",
				req: func() call {
					return call{Method: http.MethodPut, Path: byID(), Token: maint.Token, Form: url.Values{"description": {"hijack"}}}
				},
				status: http.StatusForbidden,
				body:   `{"message":"403 Forbidden - The current user is not authorized to update the pipeline trigger token"}`,
				check: func(t *testing.T, _ reply) {
					got := decode[triggerJSON](t, s.Get(t, byID(), owner.Token), http.StatusOK)
					require.Equal(t, "renamed", got.Description, "a refused update changes nothing")
				},
			},
			{
				name:   "no authentication",
				req:    func() call { return call{Method: http.MethodGet, Path: base} },
				status: http.StatusUnauthorized, body: body401,
			},
			{
				name: "no authentication (create)",
				req: func() call {
					return call{Method: http.MethodPost, Path: base, Form: url.Values{"description": {"x"}}}
				},
				status: http.StatusUnauthorized, body: body401,
			},
			{
				name:   "invalid personal access token",
				req:    func() call { return call{Method: http.MethodGet, Path: base, Token: "glpat-not-a-token"} },
				status: http.StatusUnauthorized, body: body401,
			},
			{
				name: "Authorization: Bearer",
				req: func() call {
					return call{Method: http.MethodGet, Path: base, Header: map[string]string{"Authorization": "Bearer " + owner.Token}}
				},
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					require.Len(t, decode[[]triggerJSON](t, r, http.StatusOK), 2)
				},
			},
			{
				name:   "Developer",
				req:    func() call { return call{Method: http.MethodGet, Path: base, Token: dev.Token} },
				status: http.StatusForbidden, body: body403,
			},
			{
				name: "Developer (create)",
				req: func() call {
					return call{Method: http.MethodPost, Path: base, Token: dev.Token, Form: url.Values{"description": {"x"}}}
				},
				status: http.StatusForbidden, body: body403,
			},
			{
				name: "Developer (update)",
				req: func() call {
					return call{Method: http.MethodPut, Path: byID(), Token: dev.Token, Form: url.Values{"description": {"x"}}}
				},
				status: http.StatusForbidden, body: body403,
			},
			{
				name:   "Developer (delete)",
				req:    func() call { return call{Method: http.MethodDelete, Path: byID(), Token: dev.Token} },
				status: http.StatusForbidden, body: body403,
			},
			{
				name: "project does not exist",
				req: func() call {
					return call{Method: http.MethodGet, Path: "/projects/999999/triggers", Token: owner.Token}
				},
				status: http.StatusNotFound, body: `{"message":"404 Project Not Found"}`,
			},
			{
				name:   "no access to a private project",
				req:    func() call { return call{Method: http.MethodGet, Path: base, Token: outsider.Token} },
				status: http.StatusNotFound, body: `{"message":"404 Project Not Found"}`,
			},
			{
				name:   "no access to a private project (get)",
				req:    func() call { return call{Method: http.MethodGet, Path: byID(), Token: outsider.Token} },
				status: http.StatusNotFound, body: `{"message":"404 Project Not Found"}`,
			},
			{
				name:   "unknown trigger",
				req:    func() call { return call{Method: http.MethodGet, Path: base + "/999999", Token: owner.Token} },
				status: http.StatusNotFound, body: `{"message":"404 Not found"}`,
			},
			{
				name: "another project's trigger id",
				req: func() call {
					return call{Method: http.MethodGet, Path: fmt.Sprintf("/projects/%d/triggers/%d", other.ID, tr.ID), Token: owner.Token}
				},
				status: http.StatusNotFound, body: `{"message":"404 Not found"}`,
			},
			{
				name:   "non-integer id",
				req:    func() call { return call{Method: http.MethodGet, Path: base + "/abc", Token: owner.Token} },
				status: http.StatusBadRequest, body: `{"error":"trigger_id is invalid"}`,
			},
			{
				name: "non-integer id (update)",
				req: func() call {
					return call{Method: http.MethodPut, Path: base + "/abc", Token: owner.Token, Form: url.Values{"description": {"x"}}}
				},
				status: http.StatusBadRequest, body: `{"error":"trigger_id is invalid"}`,
			},
			{
				name:   "non-integer id (delete)",
				req:    func() call { return call{Method: http.MethodDelete, Path: base + "/abc", Token: owner.Token} },
				status: http.StatusBadRequest, body: `{"error":"trigger_id is invalid"}`,
			},
			{
				name: "unknown trigger (update)",
				req: func() call {
					return call{Method: http.MethodPut, Path: base + "/999999", Token: owner.Token, Form: url.Values{"description": {"x"}}}
				},
				status: http.StatusNotFound, body: `{"message":"404 Not found"}`,
			},
			{
				name:   "missing description",
				req:    func() call { return call{Method: http.MethodPost, Path: base, Token: owner.Token, Form: url.Values{}} },
				status: http.StatusBadRequest, body: `{"error":"description is missing"}`,
			},
			{
				name: "expired token is left out of the list",
				before: func(t *testing.T) {
					_, err := s.DB.Exec(context.Background(), `UPDATE triggers SET expires_at = now() - interval '1 minute' WHERE id = $1`, tr.ID)
					require.NoError(t, err)
				},
				req:    func() call { return call{Method: http.MethodGet, Path: base, Token: owner.Token} },
				status: http.StatusOK,
				check: func(t *testing.T, r reply) {
					list := decode[[]triggerJSON](t, r, http.StatusOK)
					require.Len(t, list, 1, "only the conformance token is left: %s", r.Body)
					require.NotEqual(t, tr.ID, list[0].ID)
					_, err := s.DB.Exec(context.Background(), `UPDATE triggers SET expires_at = NULL WHERE id = $1`, tr.ID)
					require.NoError(t, err)
				},
			},
			{
				name:   "delete by a Maintainer",
				req:    func() call { return call{Method: http.MethodDelete, Path: byID(), Token: maint.Token} },
				status: http.StatusNoContent,
				check: func(t *testing.T, r reply) {
					require.Empty(t, r.Body, "204 has an empty body")
				},
			},
			{
				name:   "deleted trigger is gone",
				req:    func() call { return call{Method: http.MethodGet, Path: byID(), Token: owner.Token} },
				status: http.StatusNotFound, body: `{"message":"404 Not found"}`,
			},
			{
				name:   "delete is irreversible",
				req:    func() call { return call{Method: http.MethodDelete, Path: byID(), Token: owner.Token} },
				status: http.StatusNotFound, body: `{"message":"404 Not found"}`,
			},
			{
				name:   "deleted token triggers nothing",
				req:    func() call { return formCall(p.ID, url.Values{"token": {tr.Token}, "ref": {"master"}}) },
				status: http.StatusNotFound, body: body404,
			},
		})
	})
}
