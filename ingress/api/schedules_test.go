package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/cronspec"
	"github.com/triggerd/triggerd/internal/store"
)

// schedFixture is a private project with a main branch, a tag, a branch and
// a tag both named "twin", and members of every role.
type schedFixture struct {
	a                                          *testAPI
	project                                    upProject
	base                                       string
	owner, maint, dev, dev2, reporter, outside upUser
}

func newSchedFixture(t *testing.T) schedFixture {
	t.Helper()
	a := newTestAPI(t)
	f := schedFixture{a: a}
	f.owner = upCreateUser(t, a, "alice", false)
	f.maint = upCreateUser(t, a, "maint", false)
	f.dev = upCreateUser(t, a, "dev", false)
	f.dev2 = upCreateUser(t, a, "dev2", false)
	f.reporter = upCreateUser(t, a, "rep", false)
	f.outside = upCreateUser(t, a, "outsider", false)
	f.project = upCreateProject(t, a, f.owner.token, url.Values{"name": {"demo"}})
	pbase := fmt.Sprintf("/api/v4/projects/%d", f.project.ID)
	f.base = pbase + "/pipeline_schedules"
	for _, m := range []struct {
		u     upUser
		level int
	}{{f.maint, 40}, {f.dev, 30}, {f.dev2, 30}, {f.reporter, 20}} {
		code, body, _ := a.do(http.MethodPost, pbase+"/members", f.owner.token, "", fmt.Sprintf("user_id=%d&access_level=%d", m.u.id, m.level))
		require.Equal(t, http.StatusCreated, code, body)
	}
	code, body, _ := a.do(http.MethodPost, pbase+"/repository/files/.gitlab-ci.yml", f.owner.token, "",
		url.Values{"branch": {"main"}, "content": {"job:\n  script: echo\n"}, "commit_message": {"CI"}}.Encode())
	require.Equal(t, http.StatusCreated, code, body)
	for _, form := range []url.Values{
		{"tag_name": {"v1"}, "ref": {"main"}},
		{"tag_name": {"twin"}, "ref": {"main"}},
	} {
		code, body, _ = a.do(http.MethodPost, pbase+"/repository/tags", f.owner.token, "", form.Encode())
		require.Equal(t, http.StatusCreated, code, body)
	}
	code, body, _ = a.do(http.MethodPost, pbase+"/repository/branches", f.owner.token, "", "branch=twin&ref=main")
	require.Equal(t, http.StatusCreated, code, body)
	return f
}

// create makes a schedule through the API and returns it.
func (f schedFixture) create(t *testing.T, token string, form url.Values) map[string]any {
	t.Helper()
	code, body, _ := f.a.do(http.MethodPost, f.base, token, "", form.Encode())
	require.Equal(t, http.StatusCreated, code, body)
	return upDecode[map[string]any](t, body)
}

func (f schedFixture) url(id any, rest string) string {
	return fmt.Sprintf("%s/%v%s", f.base, id, rest)
}

// requireNextRun checks next_run_at as computed from some moment between
// before and after: on the schedule's grid, and between the runs those two
// moments give. No wall-clock race can break it.
func requireNextRun(t *testing.T, s map[string]any, before, after time.Time) {
	t.Helper()
	got, err := time.Parse(time.RFC3339, s["next_run_at"].(string))
	require.NoError(t, err)
	cron, zone := s["cron"].(string), s["cron_timezone"].(string)
	lo, err := cronspec.Next(cron, zone, before)
	require.NoError(t, err)
	hi, err := cronspec.Next(cron, zone, after)
	require.NoError(t, err)
	require.False(t, got.Before(lo), "next_run_at %s before %s", got, lo)
	require.False(t, got.After(hi), "next_run_at %s after %s", got, hi)
	onGrid, err := cronspec.Next(cron, zone, got.Add(-time.Second))
	require.NoError(t, err)
	require.Equal(t, onGrid, got)
}

func TestScheduleCRUD(t *testing.T) {
	f := newSchedFixture(t)
	a := f.a

	before := time.Now()
	code, body, _ := a.do(http.MethodPost, f.base, f.dev.token, "",
		"description=Build+packages&ref=main&cron=0+1+*+*+5&cron_timezone=UTC&active=true")
	after := time.Now()
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, []string{"id", "description", "ref", "cron", "cron_timezone", "next_run_at", "active", "created_at",
		"updated_at", "owner", "last_pipeline", "variables"}, upKeys(t, body))
	s := upDecode[map[string]any](t, body)
	id := s["id"]
	require.Equal(t, "Build packages", s["description"])
	require.Equal(t, "refs/heads/main", s["ref"], "a short ref is expanded")
	require.Equal(t, "0 1 * * 5", s["cron"])
	require.Equal(t, "UTC", s["cron_timezone"])
	require.Equal(t, true, s["active"])
	require.Nil(t, s["last_pipeline"])
	require.Equal(t, []any{}, s["variables"])
	require.EqualValues(t, f.dev.id, s["owner"].(map[string]any)["id"])
	require.Equal(t, "dev", s["owner"].(map[string]any)["username"])
	requireNextRun(t, s, before, after)

	// Defaults, a tag, a full ref kept as given, a Rails zone name, a
	// descriptor, JSON.
	d := f.create(t, f.dev.token, url.Values{"description": {"d"}, "ref": {"v1"}, "cron": {"@daily"}})
	require.Equal(t, "refs/tags/v1", d["ref"])
	require.Equal(t, "UTC", d["cron_timezone"])
	require.Equal(t, true, d["active"])
	code, body, _ = a.do(http.MethodPost, f.base, f.maint.token, "application/json",
		`{"description":"tokyo","ref":"refs/heads/main","cron":" 30 9 * * 1-5 ","cron_timezone":"Pacific Time (US & Canada)","active":false}`)
	require.Equal(t, http.StatusCreated, code, body)
	tokyo := upDecode[map[string]any](t, body)
	require.Equal(t, "refs/heads/main", tokyo["ref"])
	require.Equal(t, "30 9 * * 1-5", tokyo["cron"], "cron is stripped")
	require.Equal(t, "Pacific Time (US & Canada)", tokyo["cron_timezone"])
	require.Equal(t, false, tokyo["active"])

	// Show, as the owner and as a reporter (no variables for readers who
	// may not administer the schedule).
	code, body, _ = a.do(http.MethodGet, f.url(id, ""), f.dev.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, upKeys(t, body), "variables")
	code, body, _ = a.do(http.MethodGet, f.url(id, ""), f.reporter.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, upKeys(t, body), "variables")
	require.Contains(t, upKeys(t, body), "last_pipeline")

	// The list: no last_pipeline or variables, scope, pagination.
	code, body, h := a.do(http.MethodGet, f.base, f.reporter.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	list := upDecode[[]map[string]any](t, body)
	require.Len(t, list, 3)
	require.Equal(t, []string{"id", "description", "ref", "cron", "cron_timezone", "next_run_at", "active", "created_at",
		"updated_at", "owner"}, upKeys(t, string(upDecode[[]json.RawMessage](t, body)[0])))
	require.Equal(t, "3", h.Get("X-Total"))
	scopes := []struct {
		scope string
		want  []any
	}{{"active", []any{id, d["id"]}}, {"inactive", []any{tokyo["id"]}}}
	for _, sc := range scopes {
		code, body, h = a.do(http.MethodGet, f.base+"?scope="+sc.scope, f.dev.token, "", "")
		require.Equal(t, http.StatusOK, code, body)
		var ids []any
		for _, s := range upDecode[[]map[string]any](t, body) {
			ids = append(ids, s["id"])
		}
		require.Equal(t, sc.want, ids, sc.scope)
		require.Equal(t, fmt.Sprint(len(sc.want)), h.Get("X-Total"))
	}
	code, body, h = a.do(http.MethodGet, f.base+"?per_page=2&page=2", f.dev.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, upDecode[[]map[string]any](t, body), 1)
	require.Equal(t, "3", h.Get("X-Total"))
	require.Equal(t, "2", h.Get("X-Total-Pages"))
	require.Equal(t, "2", h.Get("X-Page"))
	require.Equal(t, "2", h.Get("X-Per-Page"))
	require.Equal(t, "", h.Get("X-Next-Page"))
	require.Equal(t, "1", h.Get("X-Prev-Page"))
	require.Contains(t, h.Get("Link"), `rel="first"`)

	// Update: cron and zone recompute next_run_at; deactivating and
	// reactivating too.
	before = time.Now()
	code, body, _ = a.do(http.MethodPut, f.url(id, ""), f.dev.token, "", "cron=15+3+*+*+*&cron_timezone=Europe%2FBerlin&description=nightly")
	after = time.Now()
	require.Equal(t, http.StatusOK, code, body)
	s = upDecode[map[string]any](t, body)
	require.Equal(t, "15 3 * * *", s["cron"])
	require.Equal(t, "Europe/Berlin", s["cron_timezone"])
	require.Equal(t, "nightly", s["description"])
	require.Equal(t, "refs/heads/main", s["ref"])
	requireNextRun(t, s, before, after)
	code, body, _ = a.do(http.MethodPut, f.url(id, ""), f.dev.token, "", "active=false")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, false, upDecode[map[string]any](t, body)["active"])
	code, body, _ = a.do(http.MethodPut, f.url(id, ""), f.dev.token, "", "ref=twin")
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Equal(t, `{"message":{"ref":["is ambiguous"]}}`, body)
	code, body, _ = a.do(http.MethodPut, f.url(id, ""), f.dev.token, "", "ref=v1&active=true")
	require.Equal(t, http.StatusOK, code, body)
	s = upDecode[map[string]any](t, body)
	require.Equal(t, "refs/tags/v1", s["ref"])
	require.Equal(t, true, s["active"])

	// Delete: 204, then gone; its pipelines stay.
	code, body, _ = a.do(http.MethodDelete, f.url(id, ""), f.dev.token, "", "")
	require.Equal(t, http.StatusNoContent, code, body)
	require.Empty(t, body)
	code, body, _ = a.do(http.MethodGet, f.url(id, ""), f.dev.token, "", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, `{"message":"404 Pipeline Schedule Not Found"}`, body)
	code, body, _ = a.do(http.MethodDelete, f.url(id, ""), f.dev.token, "", "")
	require.Equal(t, http.StatusNotFound, code, body)
}

func TestScheduleValidation(t *testing.T) {
	f := newSchedFixture(t)
	ok := url.Values{"description": {"x"}, "ref": {"main"}, "cron": {"0 1 * * *"}}
	with := func(k, v string) string {
		form := url.Values{}
		for key, vs := range ok {
			form[key] = vs
		}
		form.Set(k, v)
		return form.Encode()
	}
	cases := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"nothing", "", http.StatusBadRequest, `{"error":"description is missing, ref is missing, cron is missing"}`},
		{"no cron", "description=x&ref=main", http.StatusBadRequest, `{"error":"cron is missing"}`},
		{"empty ref", with("ref", ""), http.StatusBadRequest, `{"error":"ref is empty"}`},
		{"bad active", with("active", "maybe"), http.StatusBadRequest, `{"error":"active is invalid"}`},
		{"bad cron", with("cron", "invalid-cron"), http.StatusBadRequest, `{"message":{"cron":[" is invalid syntax"]}}`},
		{"six fields", with("cron", "0 0 1 * * *"), http.StatusBadRequest, `{"message":{"cron":[" is invalid syntax"]}}`},
		{"blank cron", with("cron", " "), http.StatusBadRequest, `{"message":{"cron":[" is invalid syntax","can't be blank"]}}`},
		{"bad zone", with("cron_timezone", "Mars/Base"), http.StatusBadRequest, `{"message":{"cron_timezone":[" is invalid syntax"]}}`},
		{"empty zone", with("cron_timezone", ""), http.StatusBadRequest,
			`{"message":{"cron_timezone":[" is invalid syntax","can't be blank"]}}`},
		{"all model errors, in GitLab's order", "description=&ref=main&cron=x&cron_timezone=y", http.StatusBadRequest,
			`{"message":{"cron":[" is invalid syntax"],"cron_timezone":[" is invalid syntax"],"description":["can't be blank"]}}`},
		{"unknown ref", with("ref", "nope"), http.StatusBadRequest, `{"message":{"ref":["is ambiguous"]}}`},
		{"branch and tag", with("ref", "twin"), http.StatusBadRequest, `{"message":{"ref":["is ambiguous"]}}`},
		{"ref checked before cron", "description=x&ref=nope&cron=bad", http.StatusBadRequest, `{"message":{"ref":["is ambiguous"]}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.a.do(http.MethodPost, f.base, f.dev.token, "", tc.body)
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}
	s := f.create(t, f.dev.token, ok)
	for _, tc := range []struct{ name, body, want string }{
		{"bad cron", "cron=*+*", `{"message":{"cron":[" is invalid syntax"]}}`},
		{"bad zone", "cron_timezone=Local", `{"message":{"cron_timezone":[" is invalid syntax"]}}`},
		{"blank description", "description=", `{"message":{"description":["can't be blank"]}}`},
		{"empty ref", "ref=", `{"message":{"ref":["is ambiguous"]}}`},
	} {
		t.Run("update "+tc.name, func(t *testing.T) {
			code, body, _ := f.a.do(http.MethodPut, f.url(s["id"], ""), f.dev.token, "", tc.body)
			require.Equal(t, http.StatusBadRequest, code, body)
			require.Equal(t, tc.want, body)
		})
	}
	// Nothing changed.
	code, body, _ := f.a.do(http.MethodGet, f.url(s["id"], ""), f.dev.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, s["cron"], upDecode[map[string]any](t, body)["cron"])
	for _, tc := range []struct{ path, want string }{
		{f.base + "?scope=all", `{"error":"scope does not have a valid value"}`},
		{f.base + "/abc", `{"error":"pipeline_schedule_id is invalid"}`},
		{f.url(s["id"], "/pipelines?sort=up"), `{"error":"sort does not have a valid value"}`},
		{f.url(s["id"], "/pipelines?status=done"), `{"error":"status does not have a valid value"}`},
	} {
		code, body, _ := f.a.do(http.MethodGet, tc.path, f.dev.token, "", "")
		require.Equal(t, http.StatusBadRequest, code, body)
		require.Equal(t, tc.want, body)
	}
}

func TestSchedulePermissions(t *testing.T) {
	f := newSchedFixture(t)
	a := f.a
	form := url.Values{"description": {"x"}, "ref": {"main"}, "cron": {"0 1 * * *"}}
	devs := f.create(t, f.dev.token, form)
	id := devs["id"]
	const (
		forbidden = `{"message":"403 Forbidden"}`
		noProject = `{"message":"404 Project Not Found"}`
		noSched   = `{"message":"404 Pipeline Schedule Not Found"}`
		unauth    = `{"message":"401 Unauthorized"}`
	)
	cases := []struct {
		name   string
		method string
		path   string
		token  string
		body   string
		status int
		want   string
	}{
		{"list anonymous", http.MethodGet, f.base, "", "", 401, unauth},
		{"list outsider", http.MethodGet, f.base, f.outside.token, "", 404, noProject},
		{"list reporter", http.MethodGet, f.base, f.reporter.token, "", 200, ""},
		{"show outsider", http.MethodGet, f.url(id, ""), f.outside.token, "", 404, noProject},
		{"show unknown", http.MethodGet, f.url(999999, ""), f.dev.token, "", 404, noSched},
		{"create anonymous", http.MethodPost, f.base, "", form.Encode(), 401, unauth},
		{"create outsider", http.MethodPost, f.base, f.outside.token, form.Encode(), 404, noProject},
		{"create reporter", http.MethodPost, f.base, f.reporter.token, form.Encode(), 403, forbidden},
		{"update by another developer", http.MethodPut, f.url(id, ""), f.dev2.token, "description=y", 403, forbidden},
		{"update by a maintainer who does not own it", http.MethodPut, f.url(id, ""), f.maint.token, "description=y", 403, forbidden},
		{"update by the project owner", http.MethodPut, f.url(id, ""), f.owner.token, "description=y", 403, forbidden},
		{"update by a reporter", http.MethodPut, f.url(id, ""), f.reporter.token, "description=y", 403, forbidden},
		{"update outsider", http.MethodPut, f.url(id, ""), f.outside.token, "description=y", 404, noProject},
		{"update anonymous", http.MethodPut, f.url(id, ""), "", "description=y", 401, unauth},
		{"update by an administrator", http.MethodPut, f.url(id, ""), a.admin, "description=by+admin", 200, ""},
		{"take ownership as another developer", http.MethodPost, f.url(id, "/take_ownership"), f.dev2.token, "", 403, forbidden},
		{"take ownership as a reporter", http.MethodPost, f.url(id, "/take_ownership"), f.reporter.token, "", 403, forbidden},
		{"take ownership as outsider", http.MethodPost, f.url(id, "/take_ownership"), f.outside.token, "", 404, noProject},
		{"delete by another developer", http.MethodDelete, f.url(id, ""), f.dev2.token, "", 403, forbidden},
		{"delete by a reporter", http.MethodDelete, f.url(id, ""), f.reporter.token, "", 403, forbidden},
		{"variables by another developer", http.MethodPost, f.url(id, "/variables"), f.dev2.token, "key=A&value=1", 403, forbidden},
		{"variables by a maintainer who does not own it", http.MethodPost, f.url(id, "/variables"), f.maint.token, "key=A&value=1", 403, forbidden},
		{"variables by a reporter", http.MethodPost, f.url(id, "/variables"), f.reporter.token, "key=A&value=1", 403, forbidden},
		{"variables of an unknown schedule", http.MethodPost, f.url(999999, "/variables"), f.dev.token, "key=A&value=1", 404, noSched},
		{"pipelines as reporter", http.MethodGet, f.url(id, "/pipelines"), f.reporter.token, "", 200, "[]"},
		{"pipelines as outsider", http.MethodGet, f.url(id, "/pipelines"), f.outside.token, "", 404, noProject},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := a.do(tc.method, tc.path, tc.token, "", tc.body)
			require.Equal(t, tc.status, code, body)
			if tc.want != "" {
				require.Equal(t, tc.want, body)
			}
		})
	}

	// A guest of a private project cannot read schedules: the list is 403,
	// one schedule is not found.
	guest := upCreateUser(t, a, "guest", false)
	code, body, _ := a.do(http.MethodPost, fmt.Sprintf("/api/v4/projects/%d/members", f.project.ID), f.owner.token, "",
		fmt.Sprintf("user_id=%d&access_level=10", guest.id))
	require.Equal(t, http.StatusCreated, code, body)
	code, body, _ = a.do(http.MethodGet, f.base, guest.token, "", "")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body, _ = a.do(http.MethodGet, f.url(id, ""), guest.token, "", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, noSched, body)

	// A maintainer takes ownership (201), may then edit; taking it again is
	// 200; the former owner, now a mere developer, may neither edit nor
	// delete it.
	code, body, _ = a.do(http.MethodPost, f.url(id, "/take_ownership"), f.maint.token, "", "")
	require.Equal(t, http.StatusCreated, code, body)
	taken := upDecode[map[string]any](t, body)
	require.EqualValues(t, f.maint.id, taken["owner"].(map[string]any)["id"])
	require.Contains(t, upKeys(t, body), "variables")
	code, body, _ = a.do(http.MethodPost, f.url(id, "/take_ownership"), f.maint.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body, _ = a.do(http.MethodPut, f.url(id, ""), f.maint.token, "", "description=mine")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "mine", upDecode[map[string]any](t, body)["description"])
	code, body, _ = a.do(http.MethodPut, f.url(id, ""), f.dev.token, "", "description=back")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body, _ = a.do(http.MethodDelete, f.url(id, ""), f.dev.token, "", "")
	require.Equal(t, http.StatusForbidden, code, body)
	// Nor may it take the schedule back: a developer who does not own a
	// schedule cannot administer it.
	code, body, _ = a.do(http.MethodPost, f.url(id, "/take_ownership"), f.dev.token, "", "")
	require.Equal(t, http.StatusForbidden, code, body)

	// A developer owner may take ownership of their own schedule (200) and
	// delete it; a maintainer may delete anyone's.
	other := f.create(t, f.dev2.token, form)
	code, body, _ = a.do(http.MethodPost, f.url(other["id"], "/take_ownership"), f.dev2.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body, _ = a.do(http.MethodDelete, f.url(other["id"], ""), f.dev2.token, "", "")
	require.Equal(t, http.StatusNoContent, code, body)
	code, body, _ = a.do(http.MethodDelete, f.url(id, ""), f.owner.token, "", "")
	require.Equal(t, http.StatusNoContent, code, body)

	// A public project's schedules are readable by anyone signed in, without
	// variables.
	pub := upCreateProject(t, a, f.owner.token, url.Values{"name": {"pub"}, "visibility": {"public"}})
	pubBase := fmt.Sprintf("/api/v4/projects/%d/pipeline_schedules", pub.ID)
	code, body, _ = a.do(http.MethodPost, fmt.Sprintf("/api/v4/projects/%d/repository/files/a.txt", pub.ID), f.owner.token, "",
		"branch=main&content=x&commit_message=x")
	require.Equal(t, http.StatusCreated, code, body)
	code, body, _ = a.do(http.MethodPost, pubBase, f.owner.token, "", form.Encode())
	require.Equal(t, http.StatusCreated, code, body)
	ps := upDecode[map[string]any](t, body)
	code, body, _ = a.do(http.MethodGet, fmt.Sprintf("%s/%v", pubBase, ps["id"]), f.outside.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, upKeys(t, body), "variables")
	code, body, _ = a.do(http.MethodGet, pubBase, "", "", "")
	require.Equal(t, http.StatusUnauthorized, code, body)
	code, body, _ = a.do(http.MethodPost, pubBase, f.outside.token, "", form.Encode())
	require.Equal(t, http.StatusForbidden, code, body)
}

func TestScheduleVariables(t *testing.T) {
	f := newSchedFixture(t)
	a := f.a
	s := f.create(t, f.dev.token, url.Values{"description": {"x"}, "ref": {"main"}, "cron": {"0 1 * * *"}})
	vars := f.url(s["id"], "/variables")

	code, body, _ := a.do(http.MethodPost, vars, f.dev.token, "", "key=DEPLOY&value=prod")
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, `{"variable_type":"env_var","key":"DEPLOY","value":"prod","raw":false}`, body)
	code, body, _ = a.do(http.MethodPost, vars, f.dev.token, "application/json", `{"key":" CFG ","value":"a=b","variable_type":"file"}`)
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, `{"variable_type":"file","key":"CFG","value":"a=b","raw":false}`, body)

	bad := []struct {
		name string
		body string
		want string
	}{
		{"nothing", "", `{"error":"key is missing, value is missing"}`},
		{"no value", "key=A", `{"error":"value is missing"}`},
		{"bad type", "key=A&value=1&variable_type=secret", `{"error":"variable_type does not have a valid value"}`},
		{"bad key", "key=!%3F&value=1", `{"message":{"key":["can contain only letters, digits and '_'."]}}`},
		{"empty key", "key=&value=1", `{"message":{"key":["can't be blank","can contain only letters, digits and '_'."]}}`},
		{"taken", "key=DEPLOY&value=2", `{"message":{"key":["has already been taken"]}}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodPost, vars, f.dev.token, "", tc.body)
			require.Equal(t, http.StatusBadRequest, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	// The schedule shows them in key order to those who may administer it.
	code, body, _ = a.do(http.MethodGet, f.url(s["id"], ""), f.maint.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	detail := upDecode[map[string]any](t, body)
	require.Equal(t, []any{
		map[string]any{"variable_type": "file", "key": "CFG", "value": "a=b", "raw": false},
		map[string]any{"variable_type": "env_var", "key": "DEPLOY", "value": "prod", "raw": false},
	}, detail["variables"])

	code, body, _ = a.do(http.MethodGet, vars+"/DEPLOY", f.maint.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body, _ = a.do(http.MethodGet, vars+"/DEPLOY", f.dev2.token, "", "")
	require.Equal(t, http.StatusForbidden, code, body)

	// Update: value and type, each optional.
	code, body, _ = a.do(http.MethodPut, vars+"/DEPLOY", f.dev.token, "", "value=staging")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, `{"variable_type":"env_var","key":"DEPLOY","value":"staging","raw":false}`, body)
	code, body, _ = a.do(http.MethodPut, vars+"/DEPLOY", f.dev.token, "", "variable_type=file")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, `{"variable_type":"file","key":"DEPLOY","value":"staging","raw":false}`, body)
	code, body, _ = a.do(http.MethodPut, vars+"/NOPE", f.dev.token, "", "value=1")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, `{"message":"404 Pipeline Schedule Variable Not Found"}`, body)
	code, body, _ = a.do(http.MethodPut, vars+"/DEPLOY", f.maint.token, "", "value=1")
	require.Equal(t, http.StatusForbidden, code, body)

	// Delete: 202 with the variable; a maintainer may, another developer
	// may not.
	code, body, _ = a.do(http.MethodDelete, vars+"/CFG", f.dev2.token, "", "")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body, _ = a.do(http.MethodDelete, vars+"/CFG", f.maint.token, "", "")
	require.Equal(t, http.StatusAccepted, code, body)
	require.Equal(t, `{"variable_type":"file","key":"CFG","value":"a=b","raw":false}`, body)
	code, body, _ = a.do(http.MethodDelete, vars+"/CFG", f.maint.token, "", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, `{"message":"404 Pipeline Schedule Variable Not Found"}`, body)

	// What the scheduler reads.
	got, err := a.q.ScheduleVariables(context.Background(), int64(s["id"].(float64)))
	require.NoError(t, err)
	require.Equal(t, []store.Variable{{Key: "DEPLOY", Value: "staging", VariableType: "file"}}, got)
}

func TestSchedulePipelines(t *testing.T) {
	f := newSchedFixture(t)
	a := f.a
	s := f.create(t, f.dev.token, url.Values{"description": {"x"}, "ref": {"main"}, "cron": {"0 1 * * *"}})
	sid := int64(s["id"].(float64))
	ctx := context.Background()
	var ids []int64
	for i, status := range []string{"success", "failed", "running"} {
		err := store.InTx(ctx, a.srv.pool, func(q *store.Queries) error {
			id, err := q.CreatePipeline(ctx, store.NewPipeline{ProjectID: f.project.ID, EventID: fmt.Sprintf("sched-%d", i),
				SHA: "abc", Ref: "main", Status: status, Source: "schedule", ScheduleID: &sid, UserID: &f.dev.id})
			ids = append(ids, id)
			return err
		})
		require.NoError(t, err)
	}
	// A pipeline of no schedule is not listed.
	require.NoError(t, store.InTx(ctx, a.srv.pool, func(q *store.Queries) error {
		_, err := q.CreatePipeline(ctx, store.NewPipeline{ProjectID: f.project.ID, EventID: "other", SHA: "abc", Ref: "main",
			Status: "success", Source: "trigger"})
		return err
	}))

	list := func(t *testing.T, query string) ([]int64, http.Header) {
		t.Helper()
		code, body, h := a.do(http.MethodGet, f.url(sid, "/pipelines"+query), f.reporter.token, "", "")
		require.Equal(t, http.StatusOK, code, body)
		var got []int64
		for _, p := range upDecode[[]map[string]any](t, body) {
			require.Equal(t, "schedule", p["source"])
			got = append(got, int64(p["id"].(float64)))
		}
		return got, h
	}
	got, h := list(t, "")
	require.Equal(t, ids, got, "oldest first")
	require.Equal(t, "3", h.Get("X-Total"))
	got, _ = list(t, "?sort=desc&per_page=2")
	require.Equal(t, []int64{ids[2], ids[1]}, got)
	got, _ = list(t, "?status=failed")
	require.Equal(t, []int64{ids[1]}, got)

	code, body, _ := a.do(http.MethodGet, f.url(sid, ""), f.dev.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	last := upDecode[map[string]any](t, body)["last_pipeline"].(map[string]any)
	require.EqualValues(t, ids[2], last["id"])
	require.Equal(t, "running", last["status"])
	require.Equal(t, []string{"id", "iid", "project_id", "sha", "ref", "status", "source", "created_at", "updated_at", "web_url"},
		upKeys(t, string(upDecode[map[string]json.RawMessage](t, body)["last_pipeline"])))

	// Deleting the schedule keeps its pipelines, unlinked.
	code, body, _ = a.do(http.MethodDelete, f.url(sid, ""), f.dev.token, "", "")
	require.Equal(t, http.StatusNoContent, code, body)
	var linked int
	require.NoError(t, a.srv.pool.QueryRow(ctx, `SELECT count(*) FROM pipelines WHERE id = ANY($1) AND schedule_id IS NULL`, ids).Scan(&linked))
	require.Equal(t, 3, linked)
}
