package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/testenv"
)

// ---- HTTP ----

// Call is one HTTP request to the ingress. Path is under /api/v4 unless it
// starts with /api/ or /-/.
type Call struct {
	Method string
	Path   string
	// Token goes into the PRIVATE-TOKEN header when set.
	Token string
	// Form is sent as an application/x-www-form-urlencoded body.
	Form url.Values
	// JSON is sent as an application/json body; a string or []byte is sent
	// as is.
	JSON   any
	Header map[string]string
}

// Reply is what the ingress answered.
type Reply struct {
	Status int
	Body   []byte
	Header http.Header
}

// Text is the body without its trailing newline.
func (r Reply) Text() string { return strings.TrimRight(string(r.Body), "\n") }

func (s *Stack) APIURL(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	if strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/-/") {
		return s.URL + path
	}
	return s.URL + "/api/v4" + path
}

func (s *Stack) Do(t testing.TB, c Call) Reply {
	t.Helper()
	var body io.Reader
	ct := ""
	switch {
	case c.Form != nil:
		body, ct = strings.NewReader(c.Form.Encode()), "application/x-www-form-urlencoded"
	case c.JSON != nil:
		var b []byte
		switch v := c.JSON.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		default:
			var err error
			b, err = json.Marshal(v)
			require.NoError(t, err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequest(c.Method, s.APIURL(c.Path), body)
	require.NoError(t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.Token != "" {
		req.Header.Set("PRIVATE-TOKEN", c.Token)
	}
	for k, v := range c.Header {
		req.Header.Set(k, v)
	}
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err, "%s %s", c.Method, c.Path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return Reply{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

// Get is a GET with a personal access token.
func (s *Stack) Get(t testing.TB, path, token string) Reply {
	t.Helper()
	return s.Do(t, Call{Method: http.MethodGet, Path: path, Token: token})
}

// Form is a request with a form body and a personal access token.
func (s *Stack) Form(t testing.TB, method, path, token string, form url.Values) Reply {
	t.Helper()
	return s.Do(t, Call{Method: method, Path: path, Token: token, Form: form})
}

// Decode requires the status and decodes the JSON body into a T.
func Decode[T any](t testing.TB, r Reply, status int) T {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	var v T
	require.NoError(t, json.Unmarshal(r.Body, &v), "body: %s", r.Body)
	return v
}

// ---- GitLab entities, as far as the tests read them ----

type UserJSON struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	State    string `json:"state"`
}

type PipelineJSON struct {
	ID         int64     `json:"id"`
	IID        int64     `json:"iid"`
	ProjectID  int64     `json:"project_id"`
	SHA        string    `json:"sha"`
	Ref        string    `json:"ref"`
	Status     string    `json:"status"`
	Source     string    `json:"source"`
	Tag        bool      `json:"tag"`
	YAMLErrors *string   `json:"yaml_errors"`
	User       *UserJSON `json:"User"`
	WebURL     string    `json:"web_url"`
}

type JobJSON struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Stage  string `json:"stage"`
	Status string `json:"status"`
	Ref    string `json:"ref"`
}

type VariableJSON struct {
	Key          string `json:"key"`
	Value        string `json:"value"`
	VariableType string `json:"variable_type"`
}

type TriggerJSON struct {
	ID          int64     `json:"id"`
	Token       string    `json:"token"`
	Description string    `json:"description"`
	CreatedAt   string    `json:"created_at"`
	UpdatedAt   string    `json:"updated_at"`
	LastUsed    *string   `json:"last_used"`
	ExpiresAt   *string   `json:"expires_at"`
	Owner       *UserJSON `json:"owner"`
}

// ---- scenario set-up through the real API ----

// User is a User made through the admin API, with a personal access token.
type User struct {
	ID       int64
	Username string
	Token    string
}

// CreateUser makes a User (POST /users as the admin) and a personal access
// token for it (POST /users/:id/personal_access_tokens).
func (s *Stack) CreateUser(t testing.TB, prefix string) User {
	t.Helper()
	name := testenv.Name(prefix)
	u := Decode[UserJSON](t, s.Form(t, http.MethodPost, "/users", s.AdminToken, url.Values{
		"username": {name}, "name": {"User " + name}, "email": {name + "@example.com"},
		"password": {"Sup3r-Secret-Passw0rd!"}, "skip_confirmation": {"true"},
	}), http.StatusCreated)
	require.Equal(t, name, u.Username)
	pat := Decode[struct {
		Token string `json:"token"`
	}](t, s.Form(t, http.MethodPost, fmt.Sprintf("/users/%d/personal_access_tokens", u.ID), s.AdminToken, url.Values{
		"name": {"e2e"}, "scopes[]": {"api"},
	}), http.StatusCreated)
	require.NotEmpty(t, pat.Token)
	return User{ID: u.ID, Username: u.Username, Token: pat.Token}
}

// Project is a Project made through the API.
type Project struct {
	ID   int64
	Path string // path_with_namespace
	// Enc is the URL-encoded full path, usable as :id.
	Enc string
}

// CreateProject makes a private Project owned by owner, and commits
// ciConfig as .gitlab-ci.yml on master when it is not empty.
func (s *Stack) CreateProject(t testing.TB, owner User, ciConfig string) Project {
	t.Helper()
	name := testenv.Name("proj")
	p := Decode[struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	}](t, s.Form(t, http.MethodPost, "/projects", owner.Token, url.Values{"name": {name}, "path": {name}}), http.StatusCreated)
	require.Equal(t, owner.Username+"/"+name, p.PathWithNamespace)
	// PathEscape encodes the slash: User%2Fproject, one path segment.
	pr := Project{ID: p.ID, Path: p.PathWithNamespace, Enc: url.PathEscape(p.PathWithNamespace)}
	if ciConfig != "" {
		s.CommitCI(t, owner.Token, pr.ID, "master", ciConfig, false)
	}
	return pr
}

// CommitCI commits .gitlab-ci.yml to branch: created (POST) or, with
// update, replaced (PUT).
func (s *Stack) CommitCI(t testing.TB, token string, projectID int64, branch, content string, update bool) {
	t.Helper()
	method, want := http.MethodPost, http.StatusCreated
	if update {
		method, want = http.MethodPut, http.StatusOK
	}
	r := s.Form(t, method, fmt.Sprintf("/projects/%d/repository/files/.gitlab-ci.yml", projectID), token, url.Values{
		"branch": {branch}, "content": {content}, "commit_message": {"CI config for " + branch},
	})
	require.Equal(t, want, r.Status, "commit .gitlab-ci.yml to %s: %s", branch, r.Body)
}

// CreateBranch makes branch from ref and returns its commit id.
func (s *Stack) CreateBranch(t testing.TB, token string, projectID int64, branch, ref string) string {
	t.Helper()
	b := Decode[struct {
		Name   string `json:"name"`
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}](t, s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/repository/branches", projectID), token,
		url.Values{"branch": {branch}, "ref": {ref}}), http.StatusCreated)
	require.Equal(t, branch, b.Name)
	return b.Commit.ID
}

// CreateTag makes a lightweight tag at ref and returns its commit id.
func (s *Stack) CreateTag(t testing.TB, token string, projectID int64, tag, ref string) string {
	t.Helper()
	b := Decode[struct {
		Name   string `json:"name"`
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}](t, s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/repository/tags", projectID), token,
		url.Values{"tag_name": {tag}, "ref": {ref}}), http.StatusCreated)
	require.Equal(t, tag, b.Name)
	return b.Commit.ID
}

// CreateTrigger makes a trigger token and returns it as its owner sees it.
func (s *Stack) CreateTrigger(t testing.TB, token string, projectID int64, description string) TriggerJSON {
	t.Helper()
	tr := Decode[TriggerJSON](t, s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/triggers", projectID), token,
		url.Values{"description": {description}}), http.StatusCreated)
	require.Regexp(t, `^glptt-[0-9a-f]{40}$`, tr.Token)
	return tr
}

// AddMember gives u a role in the Project.
func (s *Stack) AddMember(t testing.TB, token string, projectID int64, u User, level int) {
	t.Helper()
	r := s.Form(t, http.MethodPost, fmt.Sprintf("/projects/%d/members", projectID), token, url.Values{
		"user_id": {strconv.FormatInt(u.ID, 10)}, "access_level": {strconv.Itoa(level)},
	})
	require.Equal(t, http.StatusCreated, r.Status, "add member: %s", r.Body)
}

// TriggerPipeline calls the trigger API with a JSON body.
func (s *Stack) TriggerPipeline(t testing.TB, projectID any, token, ref string, vars map[string]string, header map[string]string) Reply {
	t.Helper()
	body := map[string]any{"token": token, "ref": ref}
	if vars != nil {
		body["variables"] = vars
	}
	return s.Do(t, Call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%v/trigger/pipeline", projectID), JSON: body, Header: header})
}

// PipelineCount counts a Project's pipelines in the database.
func (s *Stack) PipelineCount(t testing.TB, projectID int64) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM pipelines WHERE project_id = $1`, projectID).Scan(&n))
	return n
}

// ListPipelines reads a Project's pipelines through the API.
func (s *Stack) ListPipelines(t testing.TB, token string, projectID int64, query string) []PipelineJSON {
	t.Helper()
	path := fmt.Sprintf("/projects/%d/pipelines?per_page=100", projectID)
	if query != "" {
		path += "&" + query
	}
	return Decode[[]PipelineJSON](t, s.Get(t, path, token), http.StatusOK)
}

// PipelineJobs reads a pipeline's jobs through the API.
func (s *Stack) PipelineJobs(t testing.TB, token string, projectID, pipelineID int64) []JobJSON {
	t.Helper()
	return Decode[[]JobJSON](t, s.Get(t, fmt.Sprintf("/projects/%d/pipelines/%d/jobs?per_page=100", projectID, pipelineID), token), http.StatusOK)
}

// PipelineVariables reads a pipeline's variables through the API.
func (s *Stack) PipelineVariables(t testing.TB, token string, projectID, pipelineID int64) map[string]string {
	t.Helper()
	vars := Decode[[]VariableJSON](t, s.Get(t, fmt.Sprintf("/projects/%d/pipelines/%d/variables", projectID, pipelineID), token), http.StatusOK)
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.Key] = v.Value
	}
	return m
}

// DocsCI is the three-stage .gitlab-ci.yml of GitLab's trigger
// documentation ("Making use of trigger variables").
const DocsCI = `stages:
- test
- build
- package

run_tests:
  stage: test
  script:
  - make test

build_package:
  stage: build
  script:
  - make build

upload_package:
  stage: package
  script:
  - if [ -n "${UPLOAD_TO_S3}" ]; then make upload; fi
`

// JobStages maps job name to stage.
func JobStages(jobs []JobJSON) map[string]string {
	m := make(map[string]string, len(jobs))
	for _, j := range jobs {
		m[j.Name] = j.Stage
	}
	return m
}

// DocsJobStages is the job -> stage map DocsCI must produce.
var DocsJobStages = map[string]string{"run_tests": "test", "build_package": "build", "upload_package": "package"}

// WaitPipeline polls a pipeline until its status is final and returns it.
func (s *Stack) WaitPipeline(t *testing.T, token string, projectID, pipelineID int64) PipelineJSON {
	t.Helper()
	var pl PipelineJSON
	Eventually(t, 60*time.Second, fmt.Sprintf("pipeline %d to finish", pipelineID), func() bool {
		pl = Decode[PipelineJSON](t, s.Get(t, fmt.Sprintf("/projects/%d/pipelines/%d", projectID, pipelineID), token), http.StatusOK)
		switch pl.Status {
		case "success", "failed", "canceled", "skipped":
			return true
		}
		return false
	})
	return pl
}
