package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The helpers of the users, projects and allowlist tests are prefixed "up"
// to keep clear of other test files in the package.

// upUser is a user made through the API, with a personal access token.
type upUser struct {
	id       int64
	username string
	token    string
}

// upCreateUser makes a user through the API as the bootstrap admin, and a
// token for it.
func upCreateUser(t *testing.T, a *testAPI, username string, admin bool) upUser {
	t.Helper()
	code, body, _ := a.do(http.MethodPost, "/api/v4/users", a.admin, "application/json", upJSON(t, map[string]any{
		"email": username + "@example.com", "username": username, "name": strings.ToUpper(username[:1]) + username[1:],
		"password": "secret-password", "skip_confirmation": true, "admin": admin,
	}))
	require.Equal(t, http.StatusCreated, code, body)
	u := upDecode[struct {
		ID int64 `json:"id"`
	}](t, body)
	code, body, _ = a.do(http.MethodPost, fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", u.ID), a.admin, "",
		"name=test&scopes[]=api")
	require.Equal(t, http.StatusCreated, code, body)
	tok := upDecode[struct {
		Token string `json:"token"`
	}](t, body)
	return upUser{id: u.ID, username: username, token: tok.Token}
}

// upJSON marshals v as a request body.
func upJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// upDecode unmarshals a response body.
func upDecode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

// upKeys lists the keys of a JSON object body in their order.
func upKeys(t *testing.T, body string) []string {
	t.Helper()
	keys := []string{}
	dec := json.NewDecoder(strings.NewReader(body))
	_, err := dec.Token()
	require.NoError(t, err)
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip any
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

func TestCurrentUser(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)

	cases := []struct {
		name   string
		token  string
		status int
		check  func(t *testing.T, body string)
	}{
		{"no token", "", http.StatusUnauthorized, func(t *testing.T, body string) {
			require.Equal(t, `{"message":"401 Unauthorized"}`, body)
		}},
		{"unknown token", "glpat-nope", http.StatusUnauthorized, func(t *testing.T, body string) {
			require.Equal(t, `{"message":"401 Unauthorized"}`, body)
		}},
		{"user", alice.token, http.StatusOK, func(t *testing.T, body string) {
			require.Equal(t, []string{"id", "username", "name", "state", "locked", "avatar_url", "web_url", "created_at",
				"bio", "location", "public_email", "skype", "linkedin", "twitter", "discord", "website_url", "organization",
				"job_title", "pronouns", "bot", "work_information", "followers", "following", "is_followed", "local_time",
				"last_sign_in_at", "confirmed_at", "last_activity_on", "email", "theme_id", "color_scheme_id",
				"projects_limit", "current_sign_in_at", "identities", "can_create_group", "can_create_project",
				"two_factor_enabled", "external", "private_profile", "commit_email"}, upKeys(t, body))
			u := upDecode[map[string]any](t, body)
			require.EqualValues(t, alice.id, u["id"])
			require.Equal(t, "alice", u["username"])
			require.Equal(t, "Alice", u["name"])
			require.Equal(t, "active", u["state"])
			require.Equal(t, "alice@example.com", u["email"])
			require.Equal(t, "http://gitlab.test/alice", u["web_url"])
			require.Equal(t, []any{}, u["identities"])
		}},
		{"admin", a.admin, http.StatusOK, func(t *testing.T, body string) {
			u := upDecode[map[string]any](t, body)
			require.Equal(t, "root", u["username"])
			require.Equal(t, true, u["is_admin"])
			require.NotZero(t, u["namespace_id"])
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodGet, "/api/v4/user", tc.token, "", "")
			require.Equal(t, tc.status, code, body)
			tc.check(t, body)
		})
	}
}

func TestCreateUser(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)

	cases := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		want   string
	}{
		{"anonymous", "", map[string]any{"email": "b@example.com", "username": "bob", "name": "Bob"},
			http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"missing parameters", a.admin, map[string]any{}, http.StatusBadRequest,
			`{"error":"email is missing, name is missing, username is missing"}`},
		{"missing username", a.admin, map[string]any{"email": "b@example.com", "name": "Bob"}, http.StatusBadRequest,
			`{"error":"username is missing"}`},
		{"not an admin", alice.token, map[string]any{"email": "b@example.com", "username": "bob", "name": "Bob"},
			http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"username taken", a.admin, map[string]any{"email": "other@example.com", "username": "Alice", "name": "A"},
			http.StatusConflict, `{"message":"Username has already been taken"}`},
		{"email taken", a.admin, map[string]any{"email": "ALICE@example.com", "username": "alice2", "name": "A"},
			http.StatusConflict, `{"message":"Email has already been taken"}`},
		{"bad email", a.admin, map[string]any{"email": "nope", "username": "carol", "name": "Carol"},
			http.StatusBadRequest, `{"message":{"email":["is invalid"]}}`},
		{"bad username", a.admin, map[string]any{"email": "c@example.com", "username": "-carol", "name": "Carol"},
			http.StatusBadRequest, `{"message":{"username":["` + namespacePathMessage + `"]}}`},
		{"not a boolean", a.admin, map[string]any{"email": "c@example.com", "username": "carol", "name": "Carol", "admin": "maybe"},
			http.StatusBadRequest, `{"error":"admin is invalid"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodPost, "/api/v4/users", tc.token, "application/json", upJSON(t, tc.body))
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	t.Run("created", func(t *testing.T) {
		code, body, _ := a.do(http.MethodPost, "/api/v4/users", a.admin, "",
			"email=dave%40example.com&username=dave&name=Dave+D&reset_password=true&admin=true")
		require.Equal(t, http.StatusCreated, code, body)
		u := upDecode[map[string]any](t, body)
		require.Equal(t, "dave", u["username"])
		require.Equal(t, "Dave D", u["name"])
		require.Equal(t, "dave@example.com", u["email"])
		require.Equal(t, true, u["is_admin"])
		// The personal namespace exists: dave can create projects in it.
		code, body, _ = a.do(http.MethodGet, "/api/v4/namespaces/dave", a.admin, "", "")
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, []string{"id", "name", "path", "kind", "full_path", "parent_id", "avatar_url", "web_url"},
			upKeys(t, body))
		ns := upDecode[map[string]any](t, body)
		require.Equal(t, u["namespace_id"], ns["id"])
		require.Equal(t, "Dave D", ns["name"])
		require.Equal(t, "user", ns["kind"])
		require.Equal(t, "dave", ns["full_path"])
		require.Nil(t, ns["parent_id"])
		require.Equal(t, u["avatar_url"], ns["avatar_url"])
		require.Equal(t, "http://gitlab.test/dave", ns["web_url"])
	})
}

func TestListAndGetUsers(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)
	upCreateUser(t, a, "bob", false)

	code, body, _ := a.do(http.MethodGet, "/api/v4/users", "", "", "")
	require.Equal(t, http.StatusForbidden, code)
	require.Equal(t, `{"message":"403 Forbidden - Not authorized to access /api/v4/users"}`, body)

	code, body, _ = a.do(http.MethodGet, "/api/v4/users?username=ALICE", "", "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, fmt.Sprintf(`[{"id":%d,"username":"alice","name":"Alice","state":"active","locked":false,`+
		`"avatar_url":"https://www.gravatar.com/avatar/6384e2b2184bcbf58eccf10ca7a6563c?s=80&d=identicon",`+
		`"web_url":"http://gitlab.test/alice"}]`, alice.id), body)

	code, body, h := a.do(http.MethodGet, "/api/v4/users?per_page=2", alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "3", h.Get("X-Total"))
	users := upDecode[[]map[string]any](t, body)
	require.Len(t, users, 2)
	require.Equal(t, "bob", users[0]["username"], "newest first")
	require.NotContains(t, users[0], "email")

	code, body, _ = a.do(http.MethodGet, "/api/v4/users?search=ali", a.admin, "", "")
	require.Equal(t, http.StatusOK, code, body)
	users = upDecode[[]map[string]any](t, body)
	require.Len(t, users, 1)
	require.Equal(t, "alice@example.com", users[0]["email"], "admins see UserWithAdmin")

	cases := []struct {
		name   string
		path   string
		token  string
		status int
		want   string
	}{
		{"anonymous", fmt.Sprintf("/api/v4/users/%d", alice.id), "", http.StatusForbidden,
			`{"message":"403 Forbidden - Not authorized!"}`},
		{"unknown", "/api/v4/users/999999", alice.token, http.StatusNotFound, `{"message":"404 User Not Found"}`},
		{"not numeric", "/api/v4/users/alice", alice.token, http.StatusNotFound, `{"error":"404 Not Found"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodGet, tc.path, tc.token, "", "")
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	code, body, _ = a.do(http.MethodGet, fmt.Sprintf("/api/v4/users/%d", alice.id), alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	u := upDecode[map[string]any](t, body)
	require.Equal(t, "alice", u["username"])
	require.NotContains(t, u, "email", "another user's email is private")
	require.Contains(t, u, "created_at")
}

func TestPersonalAccessTokens(t *testing.T) {
	a := newTestAPI(t)
	alice := upCreateUser(t, a, "alice", false)
	bob := upCreateUser(t, a, "bob", false)
	path := fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", alice.id)

	cases := []struct {
		name   string
		path   string
		token  string
		ct     string
		body   string
		status int
		want   string
	}{
		{"anonymous", path, "", "", "name=x&scopes[]=api", http.StatusUnauthorized, `{"message":"401 Unauthorized"}`},
		{"not an admin", path, bob.token, "", "name=x&scopes[]=api", http.StatusForbidden, `{"message":"403 Forbidden"}`},
		{"missing", path, a.admin, "", "", http.StatusBadRequest, `{"error":"name is missing, scopes is missing"}`},
		{"empty scopes", path, a.admin, "application/json", `{"name":"x","scopes":[]}`, http.StatusBadRequest,
			`{"error":"scopes is empty"}`},
		{"unknown scope", path, a.admin, "", "name=x&scopes[]=api&scopes[]=everything", http.StatusBadRequest,
			`{"error":"scopes does not have a valid value"}`},
		{"bad date", path, a.admin, "", "name=x&scopes[]=api&expires_at=soon", http.StatusBadRequest,
			`{"error":"expires_at is invalid"}`},
		{"unknown user", "/api/v4/users/999999/personal_access_tokens", a.admin, "", "name=x&scopes[]=api",
			http.StatusNotFound, `{"message":"404 User Not Found"}`},
		{"bad user id", "/api/v4/users/alice/personal_access_tokens", a.admin, "", "name=x&scopes[]=api",
			http.StatusBadRequest, `{"error":"user_id is invalid"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := a.do(http.MethodPost, tc.path, tc.token, tc.ct, tc.body)
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	// JSON list and comma-separated scopes both work; the token is shown
	// once and authenticates.
	code, body, _ := a.do(http.MethodPost, path, a.admin, "application/json",
		`{"name":"ci","scopes":["api","read_user"],"expires_at":"2099-12-31","description":"for CI"}`)
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, []string{"id", "name", "revoked", "created_at", "description", "scopes", "user_id", "last_used_at",
		"active", "expires_at", "token"}, upKeys(t, body))
	tok := upDecode[map[string]any](t, body)
	require.Equal(t, "ci", tok["name"])
	require.Equal(t, "for CI", tok["description"])
	require.Equal(t, []any{"api", "read_user"}, tok["scopes"])
	require.EqualValues(t, alice.id, tok["user_id"])
	require.Equal(t, true, tok["active"])
	require.Equal(t, false, tok["revoked"])
	require.Equal(t, "2099-12-31", tok["expires_at"])
	require.Regexp(t, `^glpat-[0-9a-f]{32}$`, tok["token"])

	code, body, _ = a.do(http.MethodGet, "/api/v4/user", tok["token"].(string), "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "alice", upDecode[map[string]any](t, body)["username"])

	code, body, _ = a.do(http.MethodPost, path, a.admin, "", "name=cli&scopes=api,read_api")
	require.Equal(t, http.StatusCreated, code, body)
	cli := upDecode[map[string]any](t, body)
	require.Equal(t, []any{"api", "read_api"}, cli["scopes"])
	// Without expires_at, GitLab's maximum lifetime applies.
	require.Equal(t, time.Now().UTC().AddDate(0, 0, 365).Format("2006-01-02"), cli["expires_at"])

	// Own tokens only, whatever user_id says; an administrator filters.
	code, body, h := a.do(http.MethodGet, fmt.Sprintf("/api/v4/personal_access_tokens?user_id=%d", bob.id), alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "3", h.Get("X-Total"))
	for _, pat := range upDecode[[]map[string]any](t, body) {
		require.EqualValues(t, alice.id, pat["user_id"])
		require.NotContains(t, pat, "token")
	}
	code, body, h = a.do(http.MethodGet, fmt.Sprintf("/api/v4/personal_access_tokens?user_id=%d", bob.id), a.admin, "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "1", h.Get("X-Total"))

	code, body, _ = a.do(http.MethodGet, "/api/v4/personal_access_tokens/self", alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
	self := upDecode[map[string]any](t, body)
	require.Equal(t, "test", self["name"])

	code, body, _ = a.do(http.MethodGet, fmt.Sprintf("/api/v4/personal_access_tokens/%v", self["id"]), bob.token, "", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, `{"message":"404 Not Found"}`, body)
	code, body, _ = a.do(http.MethodGet, fmt.Sprintf("/api/v4/personal_access_tokens/%v", self["id"]), alice.token, "", "")
	require.Equal(t, http.StatusOK, code, body)
}
