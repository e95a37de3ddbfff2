package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// upProject is a project made through the API.
type upProject struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	Path              string `json:"path"`
	PathWithNamespace string `json:"path_with_namespace"`
	Visibility        string `json:"visibility"`
}

// upCreateProject makes a project through the API with the given form
// fields.
func upCreateProject(t *testing.T, a *testAPI, token string, fields url.Values) upProject {
	t.Helper()
	code, body, _ := a.do(http.MethodPost, "/api/v4/projects", token, "", fields.Encode())
	require.Equal(t, http.StatusCreated, code, body)
	return upDecode[upProject](t, body)
}

func TestCreateProject(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)

	// A name alone derives the path as GitLab does.
	code, body, _ := a.do(http.MethodPost, "/api/v4/projects", alice.token, "application/json",
		`{"name":"My Project","description":"demo","ci_config_path":"ci/pipeline.yml"}`)
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, []string{"id", "description", "name", "name_with_namespace", "path", "path_with_namespace",
		"created_at", "default_branch", "tag_list", "topics", "ssh_url_to_repo", "http_url_to_repo", "web_url",
		"readme_url", "forks_count", "avatar_url", "star_count", "last_activity_at", "namespace", "_links", "empty_repo",
		"archived", "visibility", "owner", "jobs_enabled", "shared_runners_enabled", "creator_id", "import_status",
		"ci_default_git_depth", "ci_forward_deployment_enabled", "ci_job_token_scope_enabled", "public_jobs",
		"build_timeout", "auto_cancel_pending_pipelines", "ci_config_path", "shared_with_groups",
		"restrict_user_defined_variables"}, upKeys(t, body))
	p := upDecode[map[string]any](t, body)
	require.Equal(t, "My Project", p["name"])
	require.Equal(t, "my-project", p["path"])
	require.Equal(t, "alice/my-project", p["path_with_namespace"])
	require.Equal(t, "Alice / My Project", p["name_with_namespace"])
	require.Equal(t, "demo", p["description"])
	require.Equal(t, "private", p["visibility"])
	require.Equal(t, "main", p["default_branch"])
	require.Equal(t, true, p["empty_repo"])
	require.Equal(t, "ci/pipeline.yml", p["ci_config_path"])
	require.Equal(t, "http://gitlab.test/alice/my-project", p["web_url"])
	require.Equal(t, "http://gitlab.test/alice/my-project.git", p["http_url_to_repo"])
	require.Equal(t, "git@gitlab.test:alice/my-project.git", p["ssh_url_to_repo"])
	require.EqualValues(t, alice.id, p["creator_id"])
	require.EqualValues(t, alice.id, p["owner"].(map[string]any)["id"])
	ns := p["namespace"].(map[string]any)
	require.Equal(t, "user", ns["kind"])
	require.Equal(t, "alice", ns["full_path"])
	require.Equal(t, "http://gitlab.test/alice", ns["web_url"])
	links := p["_links"].(map[string]any)
	require.Equal(t, fmt.Sprintf("http://gitlab.test/api/v4/projects/%v", p["id"]), links["self"])

	// A path alone names the project after it.
	pathOnly := upCreateProject(t, a, alice.token, url.Values{"path": {"tools"}, "visibility": {"public"}})
	require.Equal(t, "tools", pathOnly.Name)
	require.Equal(t, "public", pathOnly.Visibility)

	cases := []struct {
		name   string
		token  string
		body   string
		status int
		want   string
	}{
		{"anonymous", "", "name=x", http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"neither name nor path", alice.token, "description=x", http.StatusBadRequest,
			`{"error":"name, path are missing, at least one parameter must be provided"}`},
		{"bad visibility", alice.token, "name=x&visibility=secret", http.StatusBadRequest,
			`{"error":"visibility does not have a valid value"}`},
		{"bad namespace id", alice.token, "name=x&namespace_id=abc", http.StatusBadRequest,
			`{"error":"namespace_id is invalid"}`},
		{"unknown namespace", alice.token, "name=x&namespace_id=999999", http.StatusBadRequest,
			`{"message":{"namespace":["is not valid"]}}`},
		{"someone else's namespace", alice.token, "name=x&namespace_id=1", http.StatusBadRequest,
			`{"message":{"namespace":["is not valid"]}}`},
		{"name and path taken", alice.token, "name=My+Project", http.StatusBadRequest,
			`{"message":{"project_namespace.name":["has already been taken"],"name":["has already been taken"],"path":["has already been taken"]}}`},
		{"path taken", alice.token, "name=Other&path=MY-PROJECT", http.StatusBadRequest,
			`{"message":{"path":["has already been taken"]}}`},
		{"bad path", alice.token, "name=x&path=-x", http.StatusBadRequest,
			`{"message":{"path":["` + namespacePathMessage + `"]}}`},
		{"bad name", alice.token, "name=%3Fx&path=x", http.StatusBadRequest,
			`{"message":{"name":["` + projectNameMessage + `"]}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodPost, "/api/v4/projects", tc.token, "", tc.body)
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	t.Run("for a user", func(t *testing.T) {
		code, body, _ := a.do(http.MethodPost, fmt.Sprintf("/api/v4/projects/user/%d", alice.id), alice.token, "", "name=x")
		require.Equal(t, http.StatusForbidden, code, body)
		code, body, _ = a.do(http.MethodPost, fmt.Sprintf("/api/v4/projects/user/%d", alice.id), a.admin, "", "name=Given")
		require.Equal(t, http.StatusCreated, code, body)
		p := upDecode[map[string]any](t, body)
		// A name that is a valid path is the path as it is, case included.
		require.Equal(t, "alice/Given", p["path_with_namespace"])
		require.EqualValues(t, alice.id, p["creator_id"])
		// alice owns it.
		code, body, _ = a.do(http.MethodDelete, fmt.Sprintf("/api/v4/projects/%v", p["id"]), alice.token, "", "")
		require.Equal(t, http.StatusAccepted, code, body)
		require.Equal(t, `{"message":"202 Accepted"}`, body)
	})
}

func TestGetUpdateDeleteProject(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)
	maint := upCreateUser(t, a, "maint", false)
	dev := upCreateUser(t, a, "dev", false)
	outsider := upCreateUser(t, a, "outsider", false)
	p := upCreateProject(t, a, alice.token, url.Values{"name": {"demo"}})
	byID := fmt.Sprintf("/api/v4/projects/%d", p.ID)
	byPath := "/api/v4/projects/alice%2Fdemo"
	for _, m := range []struct {
		u     upUser
		level int
	}{{maint, 40}, {dev, 30}} {
		code, body, _ := a.do(http.MethodPost, byID+"/members", alice.token, "",
			fmt.Sprintf("user_id=%d&access_level=%d", m.u.id, m.level))
		require.Equal(t, http.StatusCreated, code, body)
	}

	gets := []struct {
		name   string
		path   string
		token  string
		status int
		want   string
		access string
	}{
		{"owner by id", byID, alice.token, http.StatusOK, "", `{"project_access":{"access_level":50,"notification_level":3},"group_access":null}`},
		{"owner by path", byPath, alice.token, http.StatusOK, "", `{"project_access":{"access_level":50,"notification_level":3},"group_access":null}`},
		{"path case-insensitively", "/api/v4/projects/ALICE%2FDemo", dev.token, http.StatusOK, "", `{"project_access":{"access_level":30,"notification_level":3},"group_access":null}`},
		{"admin", byID, a.admin, http.StatusOK, "", `{"project_access":null,"group_access":null}`},
		{"outsider", byID, outsider.token, http.StatusNotFound, `{"message":"404 Project Not Found"}`, ""},
		{"anonymous", byPath, "", http.StatusNotFound, `{"message":"404 Project Not Found"}`, ""},
		{"unknown", "/api/v4/projects/999999", alice.token, http.StatusNotFound, `{"message":"404 Project Not Found"}`, ""},
	}
	for _, tc := range gets {
		t.Run("get "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodGet, tc.path, tc.token, "", "")
			require.Equal(t, tc.status, code, body)
			if tc.want != "" {
				require.Equal(t, tc.want, body)
				return
			}
			got := upDecode[map[string]any](t, body)
			require.EqualValues(t, p.ID, got["id"])
			require.Equal(t, "permissions", upKeys(t, body)[len(upKeys(t, body))-1])
			require.JSONEq(t, tc.access, upJSON(t, got["permissions"]))
		})
	}

	updates := []struct {
		name   string
		token  string
		body   string
		status int
		want   string
	}{
		{"anonymous", "", "description=x", http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"outsider", outsider.token, "description=x", http.StatusNotFound, `{"message":"404 Project Not Found"}`},
		{"developer", dev.token, "description=x", http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"maintainer renames", maint.token, "name=other", http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"maintainer changes visibility", maint.token, "visibility=public", http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"bad visibility", alice.token, "visibility=everyone", http.StatusBadRequest, `{"error":"visibility does not have a valid value"}`},
	}
	for _, tc := range updates {
		t.Run("update "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodPut, byID, tc.token, "", tc.body)
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	code, body, _ := a.do(http.MethodPut, byID, maint.token, "application/json",
		`{"description":"new","default_branch":"develop","ci_config_path":"build.yml"}`)
	require.Equal(t, http.StatusOK, code, body)
	got := upDecode[map[string]any](t, body)
	require.Equal(t, "new", got["description"])
	require.Equal(t, "develop", got["default_branch"])
	require.Equal(t, "build.yml", got["ci_config_path"])

	// The owner renames the path; the old path is gone, caches included.
	_, err := a.srv.caches.Project(context.Background(), a.q, "alice/demo")
	require.NoError(t, err)
	code, body, _ = a.do(http.MethodPut, byPath, alice.token, "", "path=renamed&visibility=internal")
	require.Equal(t, http.StatusOK, code, body)
	got = upDecode[map[string]any](t, body)
	require.Equal(t, "alice/renamed", got["path_with_namespace"])
	require.Equal(t, "internal", got["visibility"])
	code, _, _ = a.do(http.MethodGet, byPath, alice.token, "", "")
	require.Equal(t, http.StatusNotFound, code)
	_, err = a.srv.caches.Project(context.Background(), a.q, "alice/demo")
	require.Error(t, err)
	// Internal: every signed-in user sees it now.
	code, body, _ = a.do(http.MethodGet, "/api/v4/projects/alice%2Frenamed", outsider.token, "", "")
	require.Equal(t, http.StatusOK, code, body)

	other := upCreateProject(t, a, alice.token, url.Values{"name": {"other"}})
	code, body, _ = a.do(http.MethodPut, fmt.Sprintf("/api/v4/projects/%d", other.ID), alice.token, "", "path=renamed")
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Equal(t, `{"message":{"path":["has already been taken"]}}`, body)

	deletes := []struct {
		name   string
		token  string
		status int
		want   string
	}{
		{"anonymous", "", http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"maintainer", maint.token, http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"owner", alice.token, http.StatusAccepted, `{"message":"202 Accepted"}`},
		{"again", alice.token, http.StatusNotFound, `{"message":"404 Project Not Found"}`},
	}
	for _, tc := range deletes {
		t.Run("delete "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodDelete, byID, tc.token, "", "")
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}
}

func TestListProjects(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)
	bob := upCreateUser(t, a, "bob", false)
	upCreateProject(t, a, alice.token, url.Values{"name": {"private-one"}})
	upCreateProject(t, a, alice.token, url.Values{"name": {"internal-one"}, "visibility": {"internal"}})
	upCreateProject(t, a, alice.token, url.Values{"name": {"public-one"}, "visibility": {"public"}})
	upCreateProject(t, a, bob.token, url.Values{"name": {"bobs"}})

	names := func(body string) []string {
		var out []string
		for _, p := range upDecode[[]upProject](t, body) {
			out = append(out, p.Name)
		}
		return out
	}
	cases := []struct {
		name  string
		query string
		token string
		want  []string
	}{
		{"anonymous", "", "", []string{"public-one"}},
		{"alice", "", alice.token, []string{"public-one", "internal-one", "private-one"}},
		{"bob", "", bob.token, []string{"bobs", "public-one", "internal-one"}},
		{"bob's membership", "?membership=true", bob.token, []string{"bobs"}},
		{"bob owned", "?owned=true", bob.token, []string{"bobs"}},
		{"admin", "", a.admin, []string{"bobs", "public-one", "internal-one", "private-one"}},
		{"search", "?search=ONE", alice.token, []string{"public-one", "internal-one", "private-one"}},
		{"visibility", "?visibility=internal", alice.token, []string{"internal-one"}},
		{"ordered", "?order_by=name&sort=asc", alice.token, []string{"internal-one", "private-one", "public-one"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, h := a.do(http.MethodGet, "/api/v4/projects"+tc.query, tc.token, "", "")
			require.Equal(t, http.StatusOK, code, body)
			require.Equal(t, tc.want, names(body))
			require.Equal(t, fmt.Sprint(len(tc.want)), h.Get("X-Total"))
		})
	}

	code, body, h := a.do(http.MethodGet, "/api/v4/projects?per_page=1&page=2&simple=true", alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []string{"internal-one"}, names(body))
	require.Equal(t, "3", h.Get("X-Total"))
	require.Equal(t, "3", h.Get("X-Next-Page"))
	require.NotContains(t, body, "permissions", "simple is the basic entity")

	code, body, _ = a.do(http.MethodGet, "/api/v4/projects?order_by=stars", alice.token, "", "")
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Equal(t, `{"error":"order_by does not have a valid value"}`, body)
}

func TestProjectMembers(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)
	maint := upCreateUser(t, a, "maint", false)
	dev := upCreateUser(t, a, "dev", false)
	carol := upCreateUser(t, a, "carol", false)
	outsider := upCreateUser(t, a, "outsider", false)
	p := upCreateProject(t, a, alice.token, url.Values{"name": {"demo"}})
	members := fmt.Sprintf("/api/v4/projects/%d/members", p.ID)

	adds := []struct {
		name   string
		token  string
		body   string
		status int
		want   string
	}{
		{"anonymous", "", "user_id=1&access_level=30", http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"missing", alice.token, "", http.StatusBadRequest,
			`{"error":"access_level is missing, user_id, username are missing, at least one parameter must be provided"}`},
		{"bad level", alice.token, fmt.Sprintf("user_id=%d&access_level=35", dev.id), http.StatusBadRequest,
			`{"error":"access_level does not have a valid value"}`},
		{"both ids", alice.token, fmt.Sprintf("user_id=%d&username=dev&access_level=30", dev.id), http.StatusBadRequest,
			`{"error":"user_id, username are mutually exclusive"}`},
		{"outsider", outsider.token, fmt.Sprintf("user_id=%d&access_level=30", dev.id), http.StatusNotFound,
			`{"message":"404 Project Not Found"}`},
		{"unknown user", alice.token, "user_id=999999&access_level=30", http.StatusNotFound, `{"message":"404 User Not Found"}`},
		{"maintainer", alice.token, fmt.Sprintf("user_id=%d&access_level=40", maint.id), http.StatusCreated, ""},
		{"developer by username", maint.token, "username=dev&access_level=30", http.StatusCreated, ""},
		{"duplicate", maint.token, "username=DEV&access_level=20", http.StatusConflict, `{"message":"Member already exists"}`},
		{"developer adds", dev.token, fmt.Sprintf("user_id=%d&access_level=10", carol.id), http.StatusForbidden,
			`{"message":"403 Forbidden"}`},
		{"maintainer adds an owner", maint.token, fmt.Sprintf("user_id=%d&access_level=50", carol.id), http.StatusForbidden,
			`{"message":"403 Forbidden"}`},
	}
	for _, tc := range adds {
		t.Run("add "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodPost, members, tc.token, "", tc.body)
			require.Equal(t, tc.status, code, body)
			if tc.want != "" {
				require.Equal(t, tc.want, body)
			}
		})
	}

	code, body, _ := a.do(http.MethodPost, members, alice.token, "application/json",
		fmt.Sprintf(`{"user_id":%d,"access_level":20,"expires_at":"2099-01-31"}`, carol.id))
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, []string{"id", "username", "name", "state", "locked", "avatar_url", "web_url", "access_level",
		"created_at", "expires_at", "membership_state"}, upKeys(t, body))
	m := upDecode[map[string]any](t, body)
	require.EqualValues(t, carol.id, m["id"])
	require.Equal(t, "carol", m["username"])
	require.EqualValues(t, 20, m["access_level"])
	require.Equal(t, "2099-01-31", m["expires_at"])

	code, body, h := a.do(http.MethodGet, members, dev.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "4", h.Get("X-Total"))
	levels := map[string]float64{}
	for _, m := range upDecode[[]map[string]any](t, body) {
		levels[m["username"].(string)] = m["access_level"].(float64)
	}
	require.Equal(t, map[string]float64{"alice": 50, "maint": 40, "dev": 30, "carol": 20}, map[string]float64{
		"alice": levels["alice"], "maint": levels["maint"], "dev": levels["dev"], "carol": levels["carol"]})

	code, body, _ = a.do(http.MethodGet, members+"?query=car", dev.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, upDecode[[]map[string]any](t, body), 1)

	code, body, _ = a.do(http.MethodGet, members, outsider.token, "", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, `{"message":"404 Project Not Found"}`, body)

	gets := []struct {
		name   string
		path   string
		status int
		want   string
	}{
		{"member", fmt.Sprintf("%s/%d", members, dev.id), http.StatusOK, ""},
		{"all member", fmt.Sprintf("%s/all/%d", members, dev.id), http.StatusOK, ""},
		{"not a member", fmt.Sprintf("%s/%d", members, outsider.id), http.StatusNotFound, `{"message":"404 Not found"}`},
		{"bad id", members + "/dev", http.StatusBadRequest, `{"error":"user_id is invalid"}`},
	}
	for _, tc := range gets {
		t.Run("get "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodGet, tc.path, dev.token, "", "")
			require.Equal(t, tc.status, code, body)
			if tc.want != "" {
				require.Equal(t, tc.want, body)
			} else {
				require.Equal(t, "dev", upDecode[map[string]any](t, body)["username"])
			}
		})
	}

	updates := []struct {
		name   string
		token  string
		user   int64
		body   string
		status int
		want   string
	}{
		{"developer", dev.token, carol.id, "access_level=30", http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"maintainer demotes the owner", maint.token, alice.id, "access_level=40", http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"not a member", maint.token, outsider.id, "access_level=30", http.StatusNotFound, `{"message":"404 Not found"}`},
		{"missing level", maint.token, carol.id, "", http.StatusBadRequest, `{"error":"access_level is missing"}`},
		{"maintainer promotes", maint.token, carol.id, "access_level=30&expires_at=", http.StatusOK, ""},
	}
	for _, tc := range updates {
		t.Run("update "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodPut, fmt.Sprintf("%s/%d", members, tc.user), tc.token, "", tc.body)
			require.Equal(t, tc.status, code, body)
			if tc.want != "" {
				require.Equal(t, tc.want, body)
				return
			}
			m := upDecode[map[string]any](t, body)
			require.EqualValues(t, 30, m["access_level"])
			require.Nil(t, m["expires_at"])
		})
	}

	deletes := []struct {
		name   string
		token  string
		user   int64
		status int
		want   string
	}{
		{"developer removes another", dev.token, carol.id, http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"maintainer removes the owner", maint.token, alice.id, http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"maintainer removes", maint.token, carol.id, http.StatusNoContent, ""},
		{"member leaves", dev.token, dev.id, http.StatusNoContent, ""},
		{"gone", maint.token, carol.id, http.StatusNotFound, `{"message":"404 Not found"}`},
	}
	for _, tc := range deletes {
		t.Run("delete "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodDelete, fmt.Sprintf("%s/%d", members, tc.user), tc.token, "", "")
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}
	// dev left: the private project is hidden from it again.
	code, body, _ = a.do(http.MethodGet, fmt.Sprintf("/api/v4/projects/%d", p.ID), dev.token, "", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, `{"message":"404 Project Not Found"}`, body)
}

func TestGroupsAndNamespaces(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)
	bob := upCreateUser(t, a, "bob", false)
	outsider := upCreateUser(t, a, "outsider", false)

	code, body, _ := a.do(http.MethodPost, "/api/v4/groups", alice.token, "", "name=Platform+Team&path=platform")
	require.Equal(t, http.StatusCreated, code, body)
	keys := upKeys(t, body)
	require.Equal(t, []string{"id", "web_url", "name", "path", "description", "visibility"}, keys[:6])
	require.Equal(t, []string{"shared_with_groups", "projects", "shared_projects"}, keys[len(keys)-3:])
	g := upDecode[map[string]any](t, body)
	require.Equal(t, "http://gitlab.test/groups/platform", g["web_url"])
	require.Equal(t, "private", g["visibility"])
	require.Equal(t, "platform", g["full_path"])
	groupID := int64(g["id"].(float64))

	groupErrs := []struct {
		name   string
		token  string
		body   string
		status int
		want   string
	}{
		{"anonymous", "", "name=x&path=x", http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"missing", alice.token, "", http.StatusBadRequest, `{"error":"name is missing, path is missing"}`},
		{"path taken", bob.token, "name=Other&path=Platform", http.StatusBadRequest,
			`{"message":"Failed to save group {:path=>[\"has already been taken\"]}"}`},
		{"path of a user", bob.token, "name=Other&path=alice", http.StatusBadRequest,
			`{"message":"Failed to save group {:path=>[\"has already been taken\"]}"}`},
		{"subgroup", alice.token, fmt.Sprintf("name=Sub&path=sub&parent_id=%d", groupID), http.StatusBadRequest,
			`{"message":"400 Bad request - subgroups are not supported"}`},
	}
	for _, tc := range groupErrs {
		t.Run("create group "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodPost, "/api/v4/groups", tc.token, "", tc.body)
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	// bob may not create in the group until he is a Maintainer of it.
	code, body, _ = a.do(http.MethodPost, "/api/v4/projects", bob.token, "", fmt.Sprintf("name=api&namespace_id=%d", groupID))
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Equal(t, `{"message":{"namespace":["is not valid"]}}`, body)
	code, body, _ = a.do(http.MethodPost, "/api/v4/groups/platform/members", bob.token, "", fmt.Sprintf("user_id=%d&access_level=40", bob.id))
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, `{"message":"404 Group Not Found"}`, body)
	code, body, _ = a.do(http.MethodPost, "/api/v4/groups/platform/members", alice.token, "", fmt.Sprintf("user_id=%d&access_level=40", bob.id))
	require.Equal(t, http.StatusCreated, code, body)
	require.EqualValues(t, 40, upDecode[map[string]any](t, body)["access_level"])
	code, body, _ = a.do(http.MethodPost, "/api/v4/groups/platform/members", alice.token, "", "username=bob&access_level=30")
	require.Equal(t, http.StatusConflict, code, body)
	require.Equal(t, `{"message":"Member already exists"}`, body)
	code, body, _ = a.do(http.MethodPost, "/api/v4/groups/platform/members", bob.token, "", fmt.Sprintf("user_id=%d&access_level=10", outsider.id))
	require.Equal(t, http.StatusForbidden, code, body)
	require.Equal(t, `{"message":"403 Forbidden"}`, body)

	api := upCreateProject(t, a, bob.token, url.Values{"name": {"API"}, "namespace_id": {fmt.Sprint(groupID)}})
	require.Equal(t, "platform/API", api.PathWithNamespace)
	// alice, the group's Owner, owns the project too, without a direct
	// membership; bob got a Maintainer membership.
	code, body, _ = a.do(http.MethodGet, "/api/v4/projects/platform%2Fapi", alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	got := upDecode[map[string]any](t, body)
	require.NotContains(t, got, "owner", "a group's project has no owner field")
	require.Equal(t, "group", got["namespace"].(map[string]any)["kind"])
	require.Equal(t, "Platform Team / API", got["name_with_namespace"])
	require.JSONEq(t, `{"project_access":null,"group_access":{"access_level":50,"notification_level":3}}`,
		upJSON(t, got["permissions"]))
	code, body, _ = a.do(http.MethodGet, "/api/v4/projects/platform%2Fapi", bob.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"project_access":{"access_level":40,"notification_level":3},"group_access":{"access_level":40,"notification_level":3}}`,
		upJSON(t, upDecode[map[string]any](t, body)["permissions"]))
	code, body, _ = a.do(http.MethodGet, "/api/v4/projects/platform%2Fapi", outsider.token, "", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, `{"message":"404 Project Not Found"}`, body)

	code, body, _ = a.do(http.MethodGet, fmt.Sprintf("/api/v4/projects/%d/members", api.ID), alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, upDecode[[]map[string]any](t, body), 1, "bob only")
	code, body, _ = a.do(http.MethodGet, fmt.Sprintf("/api/v4/projects/%d/members/all", api.ID), alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	all := map[string]float64{}
	for _, m := range upDecode[[]map[string]any](t, body) {
		all[m["username"].(string)] = m["access_level"].(float64)
	}
	require.Equal(t, map[string]float64{"alice": 50, "bob": 40}, all)

	groupGets := []struct {
		name   string
		path   string
		token  string
		status int
		want   string
	}{
		{"by path", "/api/v4/groups/platform", bob.token, http.StatusOK, ""},
		{"by id", fmt.Sprintf("/api/v4/groups/%d", groupID), alice.token, http.StatusOK, ""},
		{"outsider", "/api/v4/groups/platform", outsider.token, http.StatusNotFound, `{"message":"404 Group Not Found"}`},
		{"anonymous", "/api/v4/groups/platform", "", http.StatusNotFound, `{"message":"404 Group Not Found"}`},
		{"a user's namespace", "/api/v4/groups/alice", alice.token, http.StatusNotFound, `{"message":"404 Group Not Found"}`},
	}
	for _, tc := range groupGets {
		t.Run("get group "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodGet, tc.path, tc.token, "", "")
			require.Equal(t, tc.status, code, body)
			if tc.want != "" {
				require.Equal(t, tc.want, body)
				return
			}
			g := upDecode[map[string]any](t, body)
			require.EqualValues(t, groupID, g["id"])
			projects := g["projects"].([]any)
			require.Len(t, projects, 1)
			require.Equal(t, "platform/API", projects[0].(map[string]any)["path_with_namespace"])
		})
	}

	code, body, _ = a.do(http.MethodGet, "/api/v4/groups", bob.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, upDecode[[]map[string]any](t, body), 1)
	code, body, _ = a.do(http.MethodGet, "/api/v4/groups", outsider.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "[]", body)
	code, body, _ = a.do(http.MethodGet, "/api/v4/groups/platform/projects", bob.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, upDecode[[]map[string]any](t, body), 1)
	code, body, _ = a.do(http.MethodGet, "/api/v4/groups/platform/members", bob.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, upDecode[[]map[string]any](t, body), 2)

	// Namespaces: one's own and one's groups.
	code, body, _ = a.do(http.MethodGet, "/api/v4/namespaces", bob.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	var paths []string
	for _, n := range upDecode[[]map[string]any](t, body) {
		paths = append(paths, n["kind"].(string)+":"+n["full_path"].(string))
	}
	require.Equal(t, []string{"user:bob", "group:platform"}, paths)
	nsGets := []struct {
		name   string
		path   string
		token  string
		status int
		want   string
	}{
		{"own", "/api/v4/namespaces/bob", bob.token, http.StatusOK, ""},
		{"group", fmt.Sprintf("/api/v4/namespaces/%d", groupID), bob.token, http.StatusOK, ""},
		{"other user's", "/api/v4/namespaces/alice", bob.token, http.StatusNotFound, `{"message":"404 Namespace Not Found"}`},
		{"outsider", "/api/v4/namespaces/platform", outsider.token, http.StatusNotFound, `{"message":"404 Namespace Not Found"}`},
		{"admin", "/api/v4/namespaces/alice", a.admin, http.StatusOK, ""},
		{"anonymous", "/api/v4/namespaces/alice", "", http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
	}
	for _, tc := range nsGets {
		t.Run("get namespace "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodGet, tc.path, tc.token, "", "")
			require.Equal(t, tc.status, code, body)
			if tc.want != "" {
				require.Equal(t, tc.want, body)
			}
		})
	}

	// A public group is visible to everyone.
	code, body, _ = a.do(http.MethodPost, "/api/v4/groups", bob.token, "application/json",
		`{"name":"Open","path":"open","visibility":"public","description":"for all"}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body, _ = a.do(http.MethodGet, "/api/v4/groups/open", "", "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "for all", upDecode[map[string]any](t, body)["description"])
	code, body, _ = a.do(http.MethodGet, "/api/v4/groups", "", "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, upDecode[[]map[string]any](t, body), 1)
}

// TestUsersProjectsStockClient drives the endpoints with GitLab's own Go
// client, the way the service's users set scenarios up.
func TestUsersProjectsStockClient(t *testing.T) {
	a := newTestAPI(t)
	admin, err := gitlab.NewClient(a.admin, gitlab.WithBaseURL(a.http.URL+"/api/v4"))
	require.NoError(t, err)

	me, _, err := admin.Users.CurrentUser()
	require.NoError(t, err)
	require.True(t, me.IsAdmin)

	u, _, err := admin.Users.CreateUser(&gitlab.CreateUserOptions{Email: gitlab.Ptr("eve@example.com"),
		Username: gitlab.Ptr("eve"), Name: gitlab.Ptr("Eve"), Password: gitlab.Ptr("secret-password"),
		SkipConfirmation: gitlab.Ptr(true)})
	require.NoError(t, err)
	require.Equal(t, "eve", u.Username)
	_, resp, err := admin.Users.CreateUser(&gitlab.CreateUserOptions{Email: gitlab.Ptr("eve@example.com"),
		Username: gitlab.Ptr("eve2"), Name: gitlab.Ptr("Eve")})
	require.Error(t, err)
	require.Equal(t, http.StatusConflict, resp.StatusCode)

	pat, _, err := admin.Users.CreatePersonalAccessToken(u.ID, &gitlab.CreatePersonalAccessTokenOptions{
		Name: gitlab.Ptr("ci"), Scopes: &[]string{"api"}})
	require.NoError(t, err)
	require.NotEmpty(t, pat.Token)

	eve, err := gitlab.NewClient(pat.Token, gitlab.WithBaseURL(a.http.URL+"/api/v4"))
	require.NoError(t, err)
	p, _, err := eve.Projects.CreateProject(&gitlab.CreateProjectOptions{Name: gitlab.Ptr("Service"),
		Visibility: gitlab.Ptr(gitlab.PrivateVisibility)})
	require.NoError(t, err)
	require.Equal(t, "eve/Service", p.PathWithNamespace)
	require.Equal(t, u.ID, p.Owner.ID)

	got, _, err := eve.Projects.GetProject("eve/service", nil)
	require.NoError(t, err)
	require.Equal(t, p.ID, got.ID)
	require.Equal(t, gitlab.OwnerPermissions, got.Permissions.ProjectAccess.AccessLevel)

	g, _, err := eve.Groups.CreateGroup(&gitlab.CreateGroupOptions{Name: gitlab.Ptr("Ops"), Path: gitlab.Ptr("ops")})
	require.NoError(t, err)
	gp, _, err := eve.Projects.CreateProject(&gitlab.CreateProjectOptions{Path: gitlab.Ptr("deploy"), NamespaceID: gitlab.Ptr(g.ID)})
	require.NoError(t, err)
	require.Equal(t, "ops/deploy", gp.PathWithNamespace)

	bob, _, err := admin.Users.CreateUser(&gitlab.CreateUserOptions{Email: gitlab.Ptr("bob@example.com"),
		Username: gitlab.Ptr("bob"), Name: gitlab.Ptr("Bob"), ResetPassword: gitlab.Ptr(true)})
	require.NoError(t, err)
	m, _, err := eve.ProjectMembers.AddProjectMember(p.ID, &gitlab.AddProjectMemberOptions{
		UserID: bob.ID, AccessLevel: gitlab.Ptr(gitlab.DeveloperPermissions)})
	require.NoError(t, err)
	require.Equal(t, gitlab.DeveloperPermissions, m.AccessLevel)
	ms, _, err := eve.ProjectMembers.ListProjectMembers(p.ID, nil)
	require.NoError(t, err)
	require.Len(t, ms, 2)

	_, _, err = eve.JobTokenScope.AddProjectToJobScopeAllowList(p.ID, &gitlab.JobTokenInboundAllowOptions{
		TargetProjectID: gitlab.Ptr(gp.ID)})
	require.NoError(t, err)
	allowed, _, err := eve.JobTokenScope.GetProjectJobTokenInboundAllowList(p.ID, nil)
	require.NoError(t, err)
	require.Len(t, allowed, 2)
	require.Equal(t, gp.ID, allowed[1].ID)
	_, err = eve.JobTokenScope.RemoveProjectFromJobScopeAllowList(p.ID, gp.ID)
	require.NoError(t, err)

	_, err = eve.Projects.DeleteProject(gp.ID, nil)
	require.NoError(t, err)
}

// TestMalformedPathsAre400: a path variable that decodes to invalid UTF-8
// or holds a NUL byte is GitLab's plain-text 400 on every route, not a 500
// from Postgres refusing the string.
func TestMalformedPathsAre400(t *testing.T) {
	a := newTestAPI(t)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v4/projects/%87"},
		{http.MethodGet, "/api/v4/projects/a%00b/pipelines"},
		{http.MethodGet, "/api/v4/projects/1/repository/branches/%C3%28"},
		{http.MethodPut, "/api/v4/projects/%FF"},
		{http.MethodGet, "/api/v4/groups/%87"},
		{http.MethodPost, "/api/v4/projects/%87/trigger/pipeline"},
	} {
		status, body, h := a.do(c.method, c.path, a.admin, "", "")
		require.Equal(t, http.StatusBadRequest, status, "%s %s: %s", c.method, c.path, body)
		require.Equal(t, "Bad Request", body, "%s %s", c.method, c.path)
		require.Equal(t, "text/plain", h.Get("Content-Type"), "%s %s", c.method, c.path)
	}
	// A well-formed path still reaches its handler.
	status, _, _ := a.do(http.MethodGet, "/api/v4/projects/no%2Fsuch", a.admin, "", "")
	require.Equal(t, http.StatusNotFound, status)
}
