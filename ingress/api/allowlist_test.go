package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJobTokenAllowlist(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	alice := upCreateUser(t, a, "alice", false)
	dev := upCreateUser(t, a, "dev", false)
	outsider := upCreateUser(t, a, "outsider", false)
	target := upCreateProject(t, a, alice.token, url.Values{"name": {"target"}})
	caller := upCreateProject(t, a, alice.token, url.Values{"name": {"caller"}})
	hidden := upCreateProject(t, a, outsider.token, url.Values{"name": {"hidden"}})
	base := fmt.Sprintf("/api/v4/projects/%d/job_token_scope", target.ID)
	code, body, _ := a.do(http.MethodPost, fmt.Sprintf("/api/v4/projects/%d/members", target.ID), alice.token, "",
		fmt.Sprintf("user_id=%d&access_level=30", dev.id))
	require.Equal(t, http.StatusCreated, code, body)

	list := func(t *testing.T) []int64 {
		t.Helper()
		code, body, h := a.do(http.MethodGet, base+"/allowlist", alice.token, "", "")
		require.Equal(t, http.StatusOK, code, body)
		var ids []int64
		for _, p := range upDecode[[]upProject](t, body) {
			ids = append(ids, p.ID)
		}
		require.Equal(t, fmt.Sprint(len(ids)), h.Get("X-Total"))
		return ids
	}

	scope := []struct {
		name   string
		path   string
		token  string
		status int
		want   string
	}{
		{"settings", base, alice.token, http.StatusOK, `{"inbound_enabled":true,"outbound_enabled":false}`},
		{"settings by path", "/api/v4/projects/alice%2Ftarget/job_token_scope", alice.token, http.StatusOK,
			`{"inbound_enabled":true,"outbound_enabled":false}`},
		{"settings as developer", base, dev.token, http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"settings as outsider", base, outsider.token, http.StatusNotFound, `{"message":"404 Project Not Found"}`},
		{"settings anonymous", base, "", http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"list as developer", base + "/allowlist", dev.token, http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"list as outsider", base + "/allowlist", outsider.token, http.StatusNotFound, `{"message":"404 Project Not Found"}`},
	}
	for _, tc := range scope {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodGet, tc.path, tc.token, "", "")
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	// The list starts with the project itself, as GitLab's does.
	require.Equal(t, []int64{target.ID}, list(t))

	adds := []struct {
		name   string
		token  string
		body   string
		status int
		want   string
	}{
		{"anonymous", "", fmt.Sprintf("target_project_id=%d", caller.ID), http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"missing", alice.token, "", http.StatusBadRequest, `{"error":"target_project_id is missing"}`},
		{"not an id", alice.token, "target_project_id=alice%2Fcaller", http.StatusBadRequest, `{"error":"target_project_id is invalid"}`},
		{"developer", dev.token, fmt.Sprintf("target_project_id=%d", caller.ID), http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"outsider", outsider.token, fmt.Sprintf("target_project_id=%d", caller.ID), http.StatusNotFound, `{"message":"404 Project Not Found"}`},
		{"unknown target", alice.token, "target_project_id=999999", http.StatusNotFound,
			`{"message":"404 target_project_id not found Not Found"}`},
		{"itself", alice.token, fmt.Sprintf("target_project_id=%d", target.ID), http.StatusBadRequest,
			`{"message":"400 Bad request - Validation failed: Target project can't be the same as the source project"}`},
		{"a project the caller cannot see", alice.token, fmt.Sprintf("target_project_id=%d", hidden.ID), http.StatusBadRequest,
			`{"message":"400 Bad request - The target_project that you are attempting to access does not exist or you don't have permission to perform this action"}`},
		{"added", alice.token, fmt.Sprintf("target_project_id=%d", caller.ID), http.StatusCreated,
			fmt.Sprintf(`{"source_project_id":%d,"target_project_id":%d}`, target.ID, caller.ID)},
		{"again", alice.token, fmt.Sprintf("target_project_id=%d", caller.ID), http.StatusBadRequest,
			`{"message":"400 Bad request - Target project is already in the job token scope"}`},
	}
	for _, tc := range adds {
		t.Run("add "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodPost, base+"/allowlist", tc.token, "", tc.body)
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	require.Equal(t, []int64{target.ID, caller.ID}, list(t))
	ok, err := a.q.AllowlistContains(ctx, target.ID, caller.ID)
	require.NoError(t, err)
	require.True(t, ok, "the trigger path sees the entry")
	ok, err = a.q.AllowlistContains(ctx, caller.ID, target.ID)
	require.NoError(t, err)
	require.False(t, ok, "the allowlist is one-way")

	// An admin may let in any project; JSON bodies work too.
	code, body, _ = a.do(http.MethodPost, base+"/allowlist", a.admin, "application/json",
		fmt.Sprintf(`{"target_project_id":%d}`, hidden.ID))
	require.Equal(t, http.StatusCreated, code, body)
	code, body, h := a.do(http.MethodGet, base+"/allowlist?per_page=1&page=3", alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "3", h.Get("X-Total"))
	require.Equal(t, []string{"id", "description", "name", "name_with_namespace", "path", "path_with_namespace",
		"created_at", "default_branch", "tag_list", "topics", "ssh_url_to_repo", "http_url_to_repo", "web_url",
		"readme_url", "forks_count", "avatar_url", "star_count", "last_activity_at", "namespace"},
		upKeys(t, body[1:len(body)-1]))
	require.Equal(t, hidden.ID, upDecode[[]upProject](t, body)[0].ID)

	deletes := []struct {
		name   string
		path   string
		token  string
		status int
		want   string
	}{
		{"anonymous", fmt.Sprintf("%s/allowlist/%d", base, caller.ID), "", http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"developer", fmt.Sprintf("%s/allowlist/%d", base, caller.ID), dev.token, http.StatusForbidden,
			`{"message":"403 Forbidden - Insufficient permissions to modify the job token scope"}`},
		{"outsider", fmt.Sprintf("%s/allowlist/%d", base, caller.ID), outsider.token, http.StatusNotFound,
			`{"message":"404 Project Not Found"}`},
		{"not an id", base + "/allowlist/caller", alice.token, http.StatusBadRequest, `{"error":"target_project_id is invalid"}`},
		{"unknown target", base + "/allowlist/999999", alice.token, http.StatusNotFound, `{"message":"404 Project Not Found"}`},
		{"itself", fmt.Sprintf("%s/allowlist/%d", base, target.ID), alice.token, http.StatusBadRequest,
			`{"message":"400 Bad request - Source project cannot be removed from the job token scope"}`},
		{"removed", fmt.Sprintf("%s/allowlist/%d", base, caller.ID), alice.token, http.StatusNoContent, ""},
		{"again", fmt.Sprintf("%s/allowlist/%d", base, caller.ID), alice.token, http.StatusBadRequest,
			`{"message":"400 Bad request - Target project is not in the job token scope"}`},
	}
	for _, tc := range deletes {
		t.Run("delete "+tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodDelete, tc.path, tc.token, "", "")
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	require.Equal(t, []int64{target.ID, hidden.ID}, list(t))
	ok, err = a.q.AllowlistContains(ctx, target.ID, caller.ID)
	require.NoError(t, err)
	require.False(t, ok)

	// Deleting the allowed project takes it off the list.
	code, body, _ = a.do(http.MethodDelete, fmt.Sprintf("/api/v4/projects/%d", hidden.ID), outsider.token, "", "")
	require.Equal(t, http.StatusAccepted, code, body)
	require.Equal(t, []int64{target.ID}, list(t))
}
