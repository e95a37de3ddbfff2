package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

// repoFixture is an API with one project, root/demo, and a user per role.
type repoFixture struct {
	*testAPI
	projectID int64
	base      string // /api/v4/projects/:id
	tokens    map[string]string
}

// newRepoFixture makes the project with the given visibility and users
// "maintainer", "developer", "reporter", "guest" (members with that role)
// and "outsider" (no membership), each with a token of the same name.
func newRepoFixture(t *testing.T, visibility string) repoFixture {
	t.Helper()
	a := newTestAPI(t)
	ctx := context.Background()
	f := repoFixture{testAPI: a, tokens: map[string]string{}}
	require.NoError(t, a.q.DB().QueryRow(ctx, `INSERT INTO projects (namespace_id, name, path, path_with_namespace, visibility)
		SELECT id, 'demo', 'demo', 'root/demo', $1 FROM namespaces WHERE path = 'root' RETURNING id`, visibility).Scan(&f.projectID))
	f.base = "/api/v4/projects/" + strconv.FormatInt(f.projectID, 10)
	levels := map[string]int{"maintainer": store.Maintainer, "developer": store.Developer, "reporter": store.Reporter,
		"guest": store.Guest, "outsider": store.NoAccess}
	for name, level := range levels {
		u, err := a.q.CreateUser(ctx, store.NewUser{Username: name, Name: strings.ToUpper(name[:1]) + name[1:], Email: name + "@example.com"})
		require.NoError(t, err)
		tok := name + "-token"
		_, err = a.q.CreatePersonalToken(ctx, u.ID, "t", secret.Digest(tok), []string{"api"}, nil)
		require.NoError(t, err)
		if level > store.NoAccess {
			_, err = a.q.DB().Exec(ctx, `INSERT INTO project_members (project_id, user_id, access_level) VALUES ($1, $2, $3)`,
				f.projectID, u.ID, level)
			require.NoError(t, err)
		}
		f.tokens[name] = tok
	}
	f.tokens["admin"] = a.admin
	return f
}

// repoForm encodes key/value pairs as a form body.
func repoForm(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// repoJSON marshals v as a request body.
func repoJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// repoDecode unmarshals a response body.
func repoDecode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

// repoKeys lists the keys of a JSON object body in their order.
func repoKeys(t *testing.T, body string) []string {
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

// seed commits .gitlab-ci.yml to main of the (empty) project.
func (f repoFixture) seed(t *testing.T) {
	t.Helper()
	code, body, _ := f.do(http.MethodPost, f.base+"/repository/files/.gitlab-ci.yml", f.admin, "",
		repoForm("branch", "main", "content", "job:\n  script: echo\n", "commit_message", "Add CI"))
	require.Equal(t, http.StatusCreated, code, body)
}

func TestRepositoryFileLifecycle(t *testing.T) {
	f := newRepoFixture(t, "private")
	ctx := context.Background()
	file := f.base + "/repository/files/ci%2Fbuild.yml"

	// The trigger path has cached that the branch does not exist.
	kinds, err := f.srv.caches.RefKinds(ctx, f.q, f.projectID, "main")
	require.NoError(t, err)
	require.Empty(t, kinds)

	// A file on a missing branch of an empty project creates the branch and
	// makes it the default.
	code, body, _ := f.do(http.MethodPost, file, f.tokens["developer"], "",
		repoForm("branch", "main", "content", "a: 1\n", "commit_message", "Add build"))
	require.Equal(t, http.StatusCreated, code, body)
	require.JSONEq(t, `{"file_path":"ci/build.yml","branch":"main"}`, body)
	p, err := f.q.ProjectByID(ctx, f.projectID)
	require.NoError(t, err)
	require.NotNil(t, p.DefaultBranch)
	require.Equal(t, "main", *p.DefaultBranch)
	kinds, err = f.srv.caches.RefKinds(ctx, f.q, f.projectID, "main")
	require.NoError(t, err)
	require.Equal(t, []string{"branch"}, kinds, "the cached miss was invalidated")

	// Read it back, as JSON with base64 content, raw, and as headers.
	code, body, hdr := f.do(http.MethodGet, file+"?ref=main", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	got := repoDecode[map[string]any](t, body)
	require.Equal(t, "build.yml", got["file_name"])
	require.Equal(t, "ci/build.yml", got["file_path"])
	require.EqualValues(t, 5, got["size"])
	require.Equal(t, "base64", got["encoding"])
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("a: 1\n")), got["content"])
	require.Equal(t, "main", got["ref"])
	require.Equal(t, store.BlobSHA([]byte("a: 1\n")), got["blob_id"])
	require.Equal(t, got["commit_id"], got["last_commit_id"])
	require.Equal(t, false, got["execute_filemode"])
	require.Len(t, got["content_sha256"], 64)
	require.Equal(t, []string{"file_name", "file_path", "size", "encoding", "content_sha256", "ref", "blob_id",
		"commit_id", "last_commit_id", "execute_filemode", "content"}, repoKeys(t, body), "GitLab's field order")
	require.Equal(t, "build.yml", hdr.Get("X-Gitlab-File-Name"))
	require.Equal(t, got["blob_id"], hdr.Get("X-Gitlab-Blob-Id"))
	firstCommit := got["commit_id"].(string)

	code, body, hdr = f.do(http.MethodHead, file+"?ref=main", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, body)
	require.Equal(t, "5", hdr.Get("X-Gitlab-Size"))
	require.Equal(t, firstCommit, hdr.Get("X-Gitlab-Last-Commit-Id"))

	code, body, hdr = f.do(http.MethodGet, file+"/raw", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "a: 1", body) // the helper trims the newline
	require.Contains(t, hdr.Get("Content-Type"), "text/plain")

	// Creating it again is GitLab's 400.
	code, body, _ = f.do(http.MethodPost, file, f.tokens["developer"], "",
		repoForm("branch", "main", "content", "x", "commit_message", "again"))
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, `{"message":"A file with this name already exists"}`, body)

	// Update, with base64 content in JSON.
	code, body, _ = f.do(http.MethodPut, file, f.tokens["developer"], "application/json", repoJSON(t, map[string]any{
		"branch": "main", "commit_message": "Change build", "encoding": "base64",
		"content": base64.StdEncoding.EncodeToString([]byte("a: 2\n")), "author_name": "Ann", "author_email": "ann@example.com",
	}))
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"file_path":"ci/build.yml","branch":"main"}`, body)
	code, body, _ = f.do(http.MethodGet, file+"/raw?ref=main", f.tokens["developer"], "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "a: 2", body)
	code, body, _ = f.do(http.MethodGet, f.base+"/repository/commits/main", f.tokens["developer"], "", "")
	require.Equal(t, http.StatusOK, code)
	head := repoDecode[map[string]any](t, body)
	require.Equal(t, "Ann", head["author_name"])
	require.Equal(t, "Developer", head["committer_name"])
	require.Equal(t, []any{firstCommit}, head["parent_ids"])
	require.Equal(t, map[string]any{"additions": 1.0, "deletions": 1.0, "total": 2.0}, head["stats"])

	// A stale last_commit_id is refused.
	code, body, _ = f.do(http.MethodPut, file, f.tokens["developer"], "",
		repoForm("branch", "main", "content", "a: 3", "commit_message", "stale", "last_commit_id", firstCommit))
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, `{"message":"You are attempting to update a file that has changed since you started editing it."}`, body)

	// The old content is still at the first commit, by short id.
	code, body, _ = f.do(http.MethodGet, file+"/raw?ref="+firstCommit[:8], f.tokens["developer"], "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "a: 1", body)

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"update missing file", http.MethodPut, f.base + "/repository/files/nope.txt", repoForm("branch", "main", "content", "x", "commit_message", "m"),
			400, `{"message":"A file with this name doesn't exist"}`},
		{"missing branch of a non-empty project", http.MethodPost, f.base + "/repository/files/new.txt", repoForm("branch", "other", "content", "x", "commit_message", "m"),
			400, `{"message":"You can only create or edit files when you are on a branch"}`},
		{"missing parameters", http.MethodPost, f.base + "/repository/files/new.txt", "",
			400, `{"error":"branch is missing, commit_message is missing, content is missing"}`},
		{"blank branch", http.MethodPost, f.base + "/repository/files/new.txt", repoForm("branch", "", "content", "x", "commit_message", "m"),
			400, `{"error":"branch is empty"}`},
		{"bad encoding", http.MethodPost, f.base + "/repository/files/new.txt", repoForm("branch", "main", "content", "x", "commit_message", "m", "encoding", "hex"),
			400, `{"error":"encoding does not have a valid value"}`},
		{"traversal", http.MethodPost, f.base + "/repository/files/a%2F..%2Fb", repoForm("branch", "main", "content", "x", "commit_message", "m"),
			400, `{"error":"file_path should be a valid file path"}`},
		{"absolute", http.MethodPost, f.base + "/repository/files/%2Fetc%2Fpasswd", repoForm("branch", "main", "content", "x", "commit_message", "m"),
			400, `{"error":"file_path should be a valid file path"}`},
		{"empty segment", http.MethodPost, f.base + "/repository/files/a%2F%2Fb", repoForm("branch", "main", "content", "x", "commit_message", "m"),
			400, `{"message":"invalid path: 'a//b'"}`},
		{"file where a directory is", http.MethodPost, f.base + "/repository/files/ci", repoForm("branch", "main", "content", "x", "commit_message", "m"),
			400, `{"message":"A directory with this name already exists"}`},
		{"ref missing", http.MethodGet, file, "", 400, `{"error":"ref is missing"}`},
		{"ref empty", http.MethodGet, file + "?ref=", "", 400, `{"error":"ref is empty"}`},
		{"unknown ref", http.MethodGet, file + "?ref=nope", "", 404, `{"message":"404 Commit Not Found"}`},
		{"unknown file", http.MethodGet, f.base + "/repository/files/nope.txt?ref=main", "", 404, `{"message":"404 File Not Found"}`},
		{"invalid branch name", http.MethodPost, f.base + "/repository/files/new.txt", repoForm("branch", "bad name", "start_branch", "main", "content", "x", "commit_message", "m"),
			400, `{"message":"Something went wrong when we tried to create 'bad name' for you: Branch name is invalid"}`},
		{"branch exists, other start", http.MethodPost, f.base + "/repository/files/new.txt", repoForm("branch", "main", "start_branch", "main2", "content", "x", "commit_message", "m"),
			400, `{"message":"You can only create or edit files when you are on a branch"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.do(tc.method, tc.path, f.tokens["developer"], "", tc.body)
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	// A new branch from start_branch, with a slash in its name.
	code, body, _ = f.do(http.MethodPost, f.base+"/repository/files/docs%2FREADME.md", f.tokens["developer"], "",
		repoForm("branch", "feature/x", "start_branch", "main", "content", "hello", "commit_message", "Docs"))
	require.Equal(t, http.StatusCreated, code, body)
	code, body, _ = f.do(http.MethodGet, f.base+"/repository/files/ci%2Fbuild.yml/raw?ref=feature%2Fx", f.tokens["developer"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "a: 2", body, "the new branch started at main")
	// The same name on the other existing branch is refused.
	code, body, _ = f.do(http.MethodPost, f.base+"/repository/files/z.txt", f.tokens["developer"], "",
		repoForm("branch", "feature/x", "start_branch", "main", "content", "z", "commit_message", "z"))
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, `{"message":"A branch called 'feature/x' already exists. Switch to that branch in order to make changes"}`, body)

	// Delete.
	code, body, _ = f.do(http.MethodDelete, file, f.tokens["developer"], "", repoForm("branch", "main", "commit_message", "Remove build"))
	require.Equal(t, http.StatusNoContent, code, body)
	require.Empty(t, body)
	code, body, _ = f.do(http.MethodGet, file+"?ref=main", f.tokens["developer"], "", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, `{"message":"404 File Not Found"}`, body)
	code, body, _ = f.do(http.MethodDelete, file, f.tokens["developer"], "", repoForm("branch", "main", "commit_message", "again"))
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, `{"message":"A file with this name doesn't exist"}`, body)
}

func TestRepositoryCommitActions(t *testing.T) {
	f := newRepoFixture(t, "private")
	f.seed(t)
	commits := f.base + "/repository/commits"

	code, body, _ := f.do(http.MethodPost, commits, f.tokens["developer"], "application/json", repoJSON(t, map[string]any{
		"branch": "main", "commit_message": "Several\n\nBody text\n\nSigned-off-by: A <a@x>\nSigned-off-by: B <b@x>",
		"actions": []map[string]any{
			{"action": "create", "file_path": "a.txt", "content": "one\ntwo\n"},
			{"action": "create", "file_path": "dir/b.bin", "content": base64.StdEncoding.EncodeToString([]byte{0, 1, 2}), "encoding": "base64"},
			{"action": "update", "file_path": ".gitlab-ci.yml", "content": "job:\n  script: echo hi\n"},
		},
	}))
	require.Equal(t, http.StatusCreated, code, body)
	c := repoDecode[map[string]any](t, body)
	sha := c["id"].(string)
	require.Len(t, sha, 40)
	require.Equal(t, sha[:8], c["short_id"])
	require.Equal(t, "Several", c["title"])
	require.Equal(t, "Developer", c["author_name"])
	require.Equal(t, "developer@example.com", c["author_email"])
	require.Equal(t, map[string]any{}, c["trailers"], "GitLab parses trailers for lists asked trailers=true only")
	require.Equal(t, map[string]any{}, c["extended_trailers"])
	code, body, _ = f.do(http.MethodGet, commits+"?per_page=1&trailers=true", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	listed := repoDecode[[]map[string]any](t, body)[0]
	require.Equal(t, map[string]any{"Signed-off-by": "B <b@x>"}, listed["trailers"])
	require.Equal(t, map[string]any{"Signed-off-by": []any{"A <a@x>", "B <b@x>"}}, listed["extended_trailers"])
	require.Equal(t, "http://gitlab.test/root/demo/-/commit/"+sha, c["web_url"])
	require.Equal(t, map[string]any{"additions": 4.0, "deletions": 1.0, "total": 5.0}, c["stats"])
	require.Nil(t, c["status"])
	require.Nil(t, c["last_pipeline"])
	require.EqualValues(t, f.projectID, c["project_id"])

	code, body, _ = f.do(http.MethodGet, f.base+"/repository/files/dir%2Fb.bin/raw?ref="+sha, f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "\x00\x01\x02", body)

	// Move and delete, one commit; a stale last_commit_id names the file.
	code, body, _ = f.do(http.MethodPost, commits, f.tokens["developer"], "application/json", repoJSON(t, map[string]any{
		"branch": "main", "commit_message": "stale",
		"actions": []map[string]any{{"action": "update", "file_path": "a.txt", "content": "x", "last_commit_id": strings.Repeat("0", 40)}},
	}))
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, `{"message":"The file has changed since you started editing it: a.txt"}`, body)
	code, body, _ = f.do(http.MethodPost, commits, f.tokens["developer"], "application/json", repoJSON(t, map[string]any{
		"branch": "main", "commit_message": "Move",
		"actions": []map[string]any{
			{"action": "move", "previous_path": "a.txt", "file_path": "c.txt"},
			{"action": "delete", "file_path": "dir/b.bin"},
		},
	}))
	require.Equal(t, http.StatusCreated, code, body)
	code, body, _ = f.do(http.MethodGet, f.base+"/repository/files/c.txt/raw?ref=main", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "one\ntwo", body)

	for _, tc := range []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"missing", map[string]any{"branch": "main"}, 400, `{"error":"commit_message is missing, actions is missing"}`},
		{"bad action", map[string]any{"branch": "main", "commit_message": "m", "actions": []map[string]any{{"action": "copy", "file_path": "x"}}},
			400, `{"error":"actions[0][action] does not have a valid value"}`},
		{"no file path", map[string]any{"branch": "main", "commit_message": "m", "actions": []map[string]any{{"action": "create"}}},
			400, `{"error":"actions[0][file_path] is missing"}`},
		{"both starts", map[string]any{"branch": "n", "commit_message": "m", "start_branch": "main", "start_sha": strings.Repeat("a", 40),
			"actions": []map[string]any{}}, 400, `{"error":"start_branch, start_sha are mutually exclusive"}`},
		{"no branch", map[string]any{"branch": "nope", "commit_message": "m", "actions": []map[string]any{{"action": "create", "file_path": "x"}}},
			400, `{"message":"You can only create or edit files when you are on a branch"}`},
		{"exists", map[string]any{"branch": "main", "commit_message": "m", "actions": []map[string]any{{"action": "create", "file_path": "c.txt"}}},
			400, `{"message":"A file with this name already exists"}`},
		{"traversal", map[string]any{"branch": "main", "commit_message": "m", "actions": []map[string]any{{"action": "create", "file_path": "../x"}}},
			400, `{"message":"Path cannot include directory traversal"}`},
		{"unknown start sha", map[string]any{"branch": "n", "commit_message": "m", "start_sha": strings.Repeat("a", 40), "actions": []map[string]any{}},
			400, `{"message":"Cannot find start_sha '` + strings.Repeat("a", 40) + `'"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.do(http.MethodPost, commits, f.tokens["developer"], "application/json", repoJSON(t, tc.body))
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	// A new branch from a commit id.
	code, body, _ = f.do(http.MethodPost, commits, f.tokens["developer"], "application/json", repoJSON(t, map[string]any{
		"branch": "from-sha", "start_sha": sha, "commit_message": "Branch off", "stats": false,
		"actions": []map[string]any{{"action": "create", "file_path": "d.txt", "content": "d"}},
	}))
	require.Equal(t, http.StatusCreated, code, body)
	branched := repoDecode[map[string]any](t, body)
	require.Equal(t, []any{sha}, branched["parent_ids"])
	require.NotContains(t, branched, "stats")

	// Reporters cannot commit.
	code, body, _ = f.do(http.MethodPost, commits, f.tokens["reporter"], "application/json", repoJSON(t, map[string]any{
		"branch": "main", "commit_message": "m", "actions": []map[string]any{{"action": "create", "file_path": "r.txt"}},
	}))
	require.Equal(t, http.StatusForbidden, code)
	require.Equal(t, `{"message":"403 Forbidden"}`, body)
}

func TestRepositoryCommitLookup(t *testing.T) {
	f := newRepoFixture(t, "private")
	f.seed(t)
	code, body, _ := f.do(http.MethodPost, f.base+"/repository/files/b.txt", f.admin, "",
		repoForm("branch", "main", "content", "b", "commit_message", "Second"))
	require.Equal(t, http.StatusCreated, code, body)
	code, body, _ = f.do(http.MethodGet, f.base+"/repository/commits", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	list := repoDecode[[]map[string]any](t, body)
	require.Len(t, list, 2)
	require.Equal(t, "Second", list[0]["title"], "newest first")
	require.Equal(t, "Add CI", list[1]["title"])
	require.NotContains(t, list[0], "stats")
	head, root := list[0]["id"].(string), list[1]["id"].(string)

	code, body, hdr := f.do(http.MethodGet, f.base+"/repository/commits?per_page=1&page=2", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, root, repoDecode[[]map[string]any](t, body)[0]["id"])
	require.Equal(t, "2", hdr.Get("X-Total"))
	code, body, _ = f.do(http.MethodGet, f.base+"/repository/commits?ref_name=nope", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, `[]`, body)
	code, body, _ = f.do(http.MethodGet, f.base+"/repository/commits?path=b.txt", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, repoDecode[[]map[string]any](t, body), 1)

	code, body, _ = f.do(http.MethodPost, f.base+"/repository/tags", f.admin, "", repoForm("tag_name", "v1.0", "ref", root))
	require.Equal(t, http.StatusCreated, code, body)

	for _, tc := range []struct {
		name, sha string
		status    int
		want      string
	}{
		{"full sha", head, 200, head},
		{"short sha", head[:8], 200, head},
		{"branch", "main", 200, head},
		{"tag", "v1.0", 200, root},
		{"HEAD", "HEAD", 200, head},
		{"unknown", "nope", 404, ""},
		{"unknown sha", strings.Repeat("f", 40), 404, ""},
		{"wildcards are no prefix", "%25%25%25%25%25%25%25", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.do(http.MethodGet, f.base+"/repository/commits/"+tc.sha, f.tokens["reporter"], "", "")
			require.Equal(t, tc.status, code, body)
			if tc.status == 404 {
				require.Equal(t, `{"message":"404 Commit Not Found"}`, body)
				return
			}
			require.Equal(t, tc.want, repoDecode[map[string]any](t, body)["id"])
		})
	}
}

func TestRepositoryBranches(t *testing.T) {
	f := newRepoFixture(t, "private")
	ctx := context.Background()
	branches := f.base + "/repository/branches"

	// On an empty repository GitLab first commits a README to the default
	// branch.
	code, body, _ := f.do(http.MethodPost, branches, f.tokens["developer"], "", repoForm("branch", "feature/x", "ref", "main"))
	require.Equal(t, http.StatusCreated, code, body)
	b := repoDecode[map[string]any](t, body)
	require.Equal(t, "feature/x", b["name"])
	require.Equal(t, "Add README.md", b["commit"].(map[string]any)["title"])
	require.Equal(t, false, b["merged"], "at the default branch's head")
	require.Equal(t, false, b["protected"])
	require.Equal(t, true, b["can_push"])
	require.Equal(t, false, b["default"])
	require.Equal(t, "http://gitlab.test/root/demo/-/tree/feature/x", b["web_url"])
	require.Equal(t, []string{"name", "commit", "merged", "protected", "developers_can_push", "developers_can_merge",
		"can_push", "default", "web_url"}, repoKeys(t, body))
	p, err := f.q.ProjectByID(ctx, f.projectID)
	require.NoError(t, err)
	require.Equal(t, "main", *p.DefaultBranch)

	code, body, _ = f.do(http.MethodPost, branches, f.tokens["developer"], "application/json",
		repoJSON(t, map[string]string{"branch": "v.1-branch", "ref": "feature/x"}))
	require.Equal(t, http.StatusCreated, code, body)
	// Move main on, so that feature/x is merged into it.
	code, body, _ = f.do(http.MethodPost, f.base+"/repository/files/x.txt", f.tokens["developer"], "",
		repoForm("branch", "main", "content", "x", "commit_message", "x"))
	require.Equal(t, http.StatusCreated, code, body)

	code, body, _ = f.do(http.MethodGet, branches+"/feature%2Fx", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	b = repoDecode[map[string]any](t, body)
	require.Equal(t, true, b["merged"])
	require.Equal(t, false, b["can_push"], "a reporter")
	code, body, _ = f.do(http.MethodGet, branches+"/v.1-branch", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body, _ = f.do(http.MethodGet, branches+"/main", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, true, repoDecode[map[string]any](t, body)["default"])
	code, _, _ = f.do(http.MethodHead, branches+"/main", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusNoContent, code)
	code, _, _ = f.do(http.MethodHead, branches+"/nope", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusNotFound, code)

	code, body, hdr := f.do(http.MethodGet, branches, f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	names := []string{}
	for _, b := range repoDecode[[]map[string]any](t, body) {
		names = append(names, b["name"].(string))
	}
	require.Equal(t, []string{"feature/x", "main", "v.1-branch"}, names)
	require.Equal(t, "3", hdr.Get("X-Total"))
	for search, want := range map[string]int{"FEATURE": 1, "^v.": 1, "branch$": 1, "a": 3, "zz": 0} {
		code, body, hdr = f.do(http.MethodGet, branches+"?search="+url.QueryEscape(search), f.tokens["reporter"], "", "")
		require.Equal(t, http.StatusOK, code, body)
		require.Len(t, repoDecode[[]map[string]any](t, body), want, search)
		require.Equal(t, strconv.Itoa(want), hdr.Get("X-Total"))
	}

	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		want                            string
	}{
		{"exists", http.MethodPost, branches, "developer", repoForm("branch", "feature/x", "ref", "main"), 400, `{"message":"Branch already exists"}`},
		{"invalid name", http.MethodPost, branches, "developer", repoForm("branch", "a..b", "ref", "main"), 400, `{"message":"Branch name is invalid"}`},
		{"lock suffix", http.MethodPost, branches, "developer", repoForm("branch", "x.lock", "ref", "main"), 400, `{"message":"Branch name is invalid"}`},
		{"HEAD", http.MethodPost, branches, "developer", repoForm("branch", "HEAD", "ref", "main"), 400, `{"message":"Branch name is invalid"}`},
		{"bad ref", http.MethodPost, branches, "developer", repoForm("branch", "n", "ref", "nope"), 400,
			`{"message":"Failed to create branch 'n': invalid reference name 'nope'"}`},
		{"missing", http.MethodPost, branches, "developer", "", 400, `{"error":"branch is missing, ref is missing"}`},
		{"reporter", http.MethodPost, branches, "reporter", repoForm("branch", "r", "ref", "main"), 403, `{"message":"403 Forbidden"}`},
		{"unknown", http.MethodGet, branches + "/nope", "reporter", "", 404, `{"message":"404 Branch Not Found"}`},
		{"delete default", http.MethodDelete, branches + "/main", "developer", "", 400,
			`{"message":"The default branch of a project cannot be deleted."}`},
		{"delete unknown", http.MethodDelete, branches + "/nope", "developer", "", 404, `{"message":"404 Branch Not Found"}`},
		{"delete as reporter", http.MethodDelete, branches + "/v.1-branch", "reporter", "", 403, `{"message":"403 Forbidden"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.do(tc.method, tc.path, f.tokens[tc.token], "", tc.body)
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	// Delete, and the trigger path's cache forgets the branch.
	kinds, err := f.srv.caches.RefKinds(ctx, f.q, f.projectID, "feature/x")
	require.NoError(t, err)
	require.Equal(t, []string{"branch"}, kinds)
	code, body, _ = f.do(http.MethodDelete, branches+"/feature%2Fx", f.tokens["developer"], "", "")
	require.Equal(t, http.StatusNoContent, code, body)
	require.Empty(t, body)
	kinds, err = f.srv.caches.RefKinds(ctx, f.q, f.projectID, "feature/x")
	require.NoError(t, err)
	require.Empty(t, kinds)
	code, _, _ = f.do(http.MethodGet, branches+"/feature%2Fx", f.tokens["developer"], "", "")
	require.Equal(t, http.StatusNotFound, code)
}

func TestRepositoryTags(t *testing.T) {
	f := newRepoFixture(t, "private")
	f.seed(t)
	ctx := context.Background()
	tags := f.base + "/repository/tags"

	code, body, _ := f.do(http.MethodPost, tags, f.tokens["developer"], "", repoForm("tag_name", "v1.0", "ref", "main"))
	require.Equal(t, http.StatusCreated, code, body)
	lw := repoDecode[map[string]any](t, body)
	require.Equal(t, "v1.0", lw["name"])
	require.Nil(t, lw["message"])
	require.Nil(t, lw["created_at"])
	require.Nil(t, lw["release"])
	require.Equal(t, false, lw["protected"])
	commit := lw["commit"].(map[string]any)["id"].(string)
	require.Equal(t, commit, lw["target"], "a lightweight tag targets its commit")
	require.Equal(t, []string{"name", "message", "target", "commit", "release", "protected", "created_at"}, repoKeys(t, body))

	code, body, _ = f.do(http.MethodPost, tags, f.tokens["developer"], "application/json",
		repoJSON(t, map[string]string{"tag_name": "release/2.0", "ref": "v1.0", "message": "  Release 2\n"}))
	require.Equal(t, http.StatusCreated, code, body)
	an := repoDecode[map[string]any](t, body)
	require.Equal(t, "Release 2", an["message"])
	require.NotNil(t, an["created_at"])
	require.NotEqual(t, commit, an["target"], "an annotated tag targets its tag object")
	require.Equal(t, commit, an["commit"].(map[string]any)["id"])

	// v1.0 names a tag and, after this, a branch too: both resolve.
	code, body, _ = f.do(http.MethodPost, f.base+"/repository/branches", f.tokens["developer"], "", repoForm("branch", "v10", "ref", "v1.0"))
	require.Equal(t, http.StatusCreated, code, body)

	code, body, _ = f.do(http.MethodGet, tags+"/release%2F2.0", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "Release 2", repoDecode[map[string]any](t, body)["message"])
	code, body, _ = f.do(http.MethodGet, tags+"/v1.0", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)

	code, body, _ = f.do(http.MethodGet, tags+"?order_by=name&sort=asc", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	list := repoDecode[[]map[string]any](t, body)
	require.Len(t, list, 2)
	require.Equal(t, "release/2.0", list[0]["name"])
	code, body, _ = f.do(http.MethodGet, tags+"?search=%5Ev1", f.tokens["reporter"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, repoDecode[[]map[string]any](t, body), 1)

	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		want                            string
	}{
		{"exists", http.MethodPost, tags, "developer", repoForm("tag_name", "v1.0", "ref", "main"), 400, `{"message":"Tag v1.0 already exists"}`},
		{"bad target", http.MethodPost, tags, "developer", repoForm("tag_name", "v3", "ref", "nope"), 400, `{"message":"Target nope is invalid"}`},
		{"empty target", http.MethodPost, tags, "developer", repoForm("tag_name", "v3", "ref", ""), 400, `{"message":"Target is empty"}`},
		{"bad name", http.MethodPost, tags, "developer", repoForm("tag_name", "v 3", "ref", "main"), 400, `{"message":"Tag name invalid"}`},
		{"missing", http.MethodPost, tags, "developer", "", 400, `{"error":"tag_name is missing, ref is missing"}`},
		{"bad order", http.MethodGet, tags + "?order_by=size", "reporter", "", 400, `{"error":"order_by does not have a valid value"}`},
		{"reporter", http.MethodPost, tags, "reporter", repoForm("tag_name", "v4", "ref", "main"), 403, `{"message":"403 Forbidden"}`},
		{"unknown", http.MethodGet, tags + "/v9", "reporter", "", 404, `{"message":"404 Tag Not Found"}`},
		{"delete unknown", http.MethodDelete, tags + "/v9", "developer", "", 404, `{"message":"404 Tag Not Found"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.do(tc.method, tc.path, f.tokens[tc.token], "", tc.body)
			require.Equal(t, tc.status, code, body)
			require.Equal(t, tc.want, body)
		})
	}

	kinds, err := f.srv.caches.RefKinds(ctx, f.q, f.projectID, "v1.0")
	require.NoError(t, err)
	require.Equal(t, []string{"tag"}, kinds)
	code, body, _ = f.do(http.MethodDelete, tags+"/v1.0", f.tokens["developer"], "", "")
	require.Equal(t, http.StatusNoContent, code, body)
	kinds, err = f.srv.caches.RefKinds(ctx, f.q, f.projectID, "v1.0")
	require.NoError(t, err)
	require.Empty(t, kinds)
	code, _, _ = f.do(http.MethodGet, tags+"/v1.0", f.tokens["developer"], "", "")
	require.Equal(t, http.StatusNotFound, code)
}

func TestRepositoryPermissions(t *testing.T) {
	private := newRepoFixture(t, "private")
	private.seed(t)
	public := newRepoFixture(t, "public")
	public.seed(t)

	read := "/repository/files/.gitlab-ci.yml?ref=main"
	write := repoForm("branch", "main", "content", "x", "commit_message", "m")
	for _, tc := range []struct {
		name    string
		f       repoFixture
		method  string
		path    string
		token   string
		status  int
		errBody string
	}{
		{"private: reporter reads", private, http.MethodGet, read, "reporter", 200, ""},
		{"private: guest cannot read code", private, http.MethodGet, read, "guest", 403, `{"message":"403 Forbidden"}`},
		{"private: outsider sees nothing", private, http.MethodGet, read, "outsider", 404, `{"message":"404 Project Not Found"}`},
		{"private: anonymous sees nothing", private, http.MethodGet, read, "", 404, `{"message":"404 Project Not Found"}`},
		{"private: bad token", private, http.MethodGet, read, "bogus", 401, `{"message":"401 Unauthorized"}`},
		{"private: reporter cannot write", private, http.MethodPost, "/repository/files/r.txt", "reporter", 403, `{"message":"403 Forbidden"}`},
		{"private: developer writes", private, http.MethodPost, "/repository/files/d.txt", "developer", 201, ""},
		{"private: outsider cannot write", private, http.MethodPost, "/repository/files/o.txt", "outsider", 404, `{"message":"404 Project Not Found"}`},
		{"private: guest reads no branches", private, http.MethodGet, "/repository/branches", "guest", 403, `{"message":"403 Forbidden"}`},
		{"public: anonymous reads", public, http.MethodGet, read, "", 200, ""},
		{"public: outsider reads commits", public, http.MethodGet, "/repository/commits/main", "outsider", 200, ""},
		{"public: guest reads tags", public, http.MethodGet, "/repository/tags", "guest", 200, ""},
		{"public: outsider cannot write", public, http.MethodPost, "/repository/files/o.txt", "outsider", 403, `{"message":"403 Forbidden"}`},
		{"public: anonymous cannot write", public, http.MethodPost, "/repository/files/a.txt", "", 401, `{"message":"401 Unauthorized"}`},
		{"public: by path", public, http.MethodGet, "/repository/branches/main", "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.f.tokens[tc.token]
			if tc.token == "bogus" {
				token = "bogus"
			}
			body := ""
			if tc.method == http.MethodPost {
				body = write
			}
			base := tc.f.base
			if strings.HasSuffix(tc.name, "by path") {
				base = "/api/v4/projects/root%2Fdemo"
			}
			code, got, _ := tc.f.do(tc.method, base+tc.path, token, "", body)
			require.Equal(t, tc.status, code, got)
			if tc.errBody != "" {
				require.Equal(t, tc.errBody, got)
			}
		})
	}
}

// TestRepositoryStockClient drives the endpoints with GitLab's own Go client,
// which decodes every entity strictly by type.
func TestRepositoryStockClient(t *testing.T) {
	f := newRepoFixture(t, "private")
	gl, err := gitlab.NewClient(f.tokens["developer"], gitlab.WithBaseURL(f.http.URL+"/api/v4"))
	require.NoError(t, err)
	const pid = "root/demo"

	info, _, err := gl.RepositoryFiles.CreateFile(pid, "ci/.gitlab-ci.yml", &gitlab.CreateFileOptions{
		Branch: gitlab.Ptr("main"), Content: gitlab.Ptr("job:\n  script: echo\n"), CommitMessage: gitlab.Ptr("Add CI"),
	})
	require.NoError(t, err)
	require.Equal(t, "ci/.gitlab-ci.yml", info.FilePath)
	require.Equal(t, "main", info.Branch)
	_, _, err = gl.RepositoryFiles.UpdateFile(pid, "ci/.gitlab-ci.yml", &gitlab.UpdateFileOptions{
		Branch: gitlab.Ptr("main"), Content: gitlab.Ptr("job:\n  script: echo 2\n"), CommitMessage: gitlab.Ptr("Edit CI"),
	})
	require.NoError(t, err)

	file, _, err := gl.RepositoryFiles.GetFile(pid, "ci/.gitlab-ci.yml", &gitlab.GetFileOptions{Ref: gitlab.Ptr("main")})
	require.NoError(t, err)
	content, err := base64.StdEncoding.DecodeString(file.Content)
	require.NoError(t, err)
	require.Equal(t, "job:\n  script: echo 2\n", string(content))
	meta, _, err := gl.RepositoryFiles.GetFileMetaData(pid, "ci/.gitlab-ci.yml", &gitlab.GetFileMetaDataOptions{Ref: gitlab.Ptr("main")})
	require.NoError(t, err)
	require.Equal(t, file.BlobID, meta.BlobID)
	require.EqualValues(t, len(content), meta.Size)
	raw, _, err := gl.RepositoryFiles.GetRawFile(pid, "ci/.gitlab-ci.yml", &gitlab.GetRawFileOptions{})
	require.NoError(t, err)
	require.Equal(t, content, raw)

	commit, _, err := gl.Commits.CreateCommit(pid, &gitlab.CreateCommitOptions{
		Branch: gitlab.Ptr("main"), CommitMessage: gitlab.Ptr("More"),
		Actions: []*gitlab.CommitActionOptions{{Action: gitlab.Ptr(gitlab.FileCreate), FilePath: gitlab.Ptr("a.txt"), Content: gitlab.Ptr("a")}},
	})
	require.NoError(t, err)
	require.Equal(t, "More", commit.Title)
	got, _, err := gl.Commits.GetCommit(pid, commit.ShortID, nil)
	require.NoError(t, err)
	require.Equal(t, commit.ID, got.ID)
	require.NotNil(t, got.Stats)
	require.Equal(t, 1, int(got.Stats.Additions))
	list, resp, err := gl.Commits.ListCommits(pid, &gitlab.ListCommitsOptions{RefName: gitlab.Ptr("main")})
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, 3, int(resp.TotalItems))

	branch, _, err := gl.Branches.CreateBranch(pid, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr("feature/x"), Ref: gitlab.Ptr("main")})
	require.NoError(t, err)
	require.Equal(t, commit.ID, branch.Commit.ID)
	branch, _, err = gl.Branches.GetBranch(pid, "feature/x")
	require.NoError(t, err)
	require.Equal(t, "feature/x", branch.Name)
	_, _, err = gl.Branches.CreateBranch(pid, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr("v.1-branch"), Ref: gitlab.Ptr(commit.ShortID)})
	require.NoError(t, err)
	branches, _, err := gl.Branches.ListBranches(pid, &gitlab.ListBranchesOptions{})
	require.NoError(t, err)
	require.Len(t, branches, 3)
	_, err = gl.Branches.DeleteBranch(pid, "v.1-branch")
	require.NoError(t, err)
	_, resp, err = gl.Branches.GetBranch(pid, "v.1-branch")
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	tag, _, err := gl.Tags.CreateTag(pid, &gitlab.CreateTagOptions{TagName: gitlab.Ptr("v1.0"), Ref: gitlab.Ptr("feature/x"), Message: gitlab.Ptr("One")})
	require.NoError(t, err)
	require.Equal(t, "One", tag.Message)
	require.NotNil(t, tag.CreatedAt)
	tag, _, err = gl.Tags.GetTag(pid, "v1.0")
	require.NoError(t, err)
	require.Equal(t, commit.ID, tag.Commit.ID)
	tags, _, err := gl.Tags.ListTags(pid, &gitlab.ListTagsOptions{})
	require.NoError(t, err)
	require.Len(t, tags, 1)
	_, err = gl.Tags.DeleteTag(pid, "v1.0")
	require.NoError(t, err)
}

// TestRepositoryConcurrentFirstCommits races commits that all create the
// first branch of an empty project: one creates it, the others retry on top
// of it, and no commit is lost.
func TestRepositoryConcurrentFirstCommits(t *testing.T) {
	f := newRepoFixture(t, "private")
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			// f.do fails the test from its goroutine; this one must not.
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, f.http.URL+f.base+"/repository/files/f"+strconv.Itoa(i)+".txt",
				strings.NewReader(repoForm("branch", "main", "content", "x", "commit_message", "m")))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("PRIVATE-TOKEN", f.tokens["developer"])
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, code := range codes {
		require.NoError(t, errs[i])
		require.Equal(t, http.StatusCreated, code, "commit %d", i)
	}
	code, body, hdr := f.do(http.MethodGet, f.base+"/repository/commits", f.tokens["developer"], "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, strconv.Itoa(n), hdr.Get("X-Total"), "one linear history")
	for i := range n {
		code, _, _ := f.do(http.MethodGet, f.base+"/repository/files/f"+strconv.Itoa(i)+".txt?ref=main", f.tokens["developer"], "", "")
		require.Equal(t, http.StatusOK, code, "file %d", i)
	}
}
