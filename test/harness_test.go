// Package test holds the end-to-end tests: they build the three real
// binaries once, start them against a fresh Postgres database and an embedded
// NATS server per test, and talk to the ingress over HTTP exactly as GitLab's
// documented curl commands and stock GitLab clients do.
package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/testenv"
)

// binDir holds the binaries TestMain built for this run.
var binDir string

// TestMain checks that Postgres is reachable (failing, never skipping, with
// the command that starts it) and builds ingress, dispatcher and runner-sim
// once for every test.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := pgx.Connect(ctx, testenv.ServerURL())
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the end-to-end tests need Postgres, which is not reachable at %s: %v\n"+
			"Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"or point TEST_DATABASE_URL at a server.\n", testenv.ServerURL(), err)
		return 1
	}
	_ = conn.Close(context.Background())

	dir, err := os.MkdirTemp("", "triggerd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// buildBinaries runs `go build` from the module root, found with `go env
// GOMOD`, writing the three binaries into dir.
func buildBinaries(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return fmt.Errorf("go env GOMOD: not inside the module")
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./ingress", "./dispatcher", "./runner-sim")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build binaries: %v\n%s", err, out)
	}
	for _, name := range []string{"ingress", "dispatcher", "runner-sim"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("build binaries: %s missing: %w", name, err)
		}
	}
	return nil
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one running binary of the stack.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // the Wait result, set before done is closed
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode is the process's exit status, -1 while it runs or when a signal
// ended it.
func (p *proc) exitCode() int {
	if !p.exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitExit waits up to d for the process to end.
func (p *proc) waitExit(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// stop sends SIGTERM, and SIGKILL if the process has not ended after grace.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if p.waitExit(grace) {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// kill ends the process at once, as a crash would.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stackOpts tunes startStack.
type stackOpts struct {
	// Dispatchers is how many dispatchers start (default 1; -1 for none).
	Dispatchers int
	// DispatcherEnv is extra environment of the initial dispatchers, e.g.
	// DISPATCHER_CRASH_AFTER_COMMIT=true.
	DispatcherEnv []string
	// TriggerWait is the ingress's TRIGGER_WAIT (default 10s).
	TriggerWait time.Duration
	// AckWait is every dispatcher's DISPATCHER_ACK_WAIT (default: the
	// binary's own).
	AckWait time.Duration
	// Ingresses is how many ingress replicas serve the API (default 1);
	// the first one is URL, all of them are IngressURLs.
	Ingresses int
	// Runners is how many runner-sim processes run jobs (default none, so
	// that tests of the trigger path see jobs stay where they were
	// released).
	Runners int
	// RunnerEnv is extra environment of the runners.
	RunnerEnv []string
}

// stack is the whole service running for one test: ingress, dispatchers and
// runner-sim over a fresh database and an embedded NATS server.
type stack struct {
	t          *testing.T
	URL        string // http://127.0.0.1:port, no trailing slash
	AdminToken string
	DBURL      string
	NATSURL    string
	DB         *pgxpool.Pool
	opts       stackOpts
	env        []string
	http       *http.Client

	// IngressURLs are the base URLs of every ingress replica.
	IngressURLs []string

	mu          sync.Mutex
	procs       []*proc
	Ingress     *proc
	Dispatchers []*proc
	Runners     []*proc
}

// startStack starts the service for t and stops it when t ends. Every
// process's output is printed when t fails.
func startStack(t *testing.T, opts stackOpts) *stack {
	t.Helper()
	if binDir == "" {
		t.Fatal("binaries were not built (TestMain did not run)")
	}
	if opts.Dispatchers == 0 {
		opts.Dispatchers = 1
	}
	if opts.TriggerWait == 0 {
		opts.TriggerWait = 10 * time.Second
	}
	dbURL := testenv.Database(t)
	nats := testenv.NATS(t)
	port := freePort(t)
	s := &stack{
		t:          t,
		URL:        "http://127.0.0.1:" + strconv.Itoa(port),
		AdminToken: secret.NewPersonalToken(),
		DBURL:      dbURL,
		NATSURL:    nats.URL(),
		opts:       opts,
		http:       &http.Client{Timeout: 60 * time.Second},
	}
	s.env = append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"NATS_URL="+s.NATSURL,
		"INGRESS_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"EXTERNAL_URL="+s.URL,
		"TRIGGERS_ADMIN_TOKEN="+s.AdminToken,
		"TRIGGERS_SECRET_KEY="+hexToken(),
		"TRIGGER_WAIT="+opts.TriggerWait.String(),
		"LOG_LEVEL="+logLevel(),
	)
	if opts.AckWait > 0 {
		s.env = append(s.env, "DISPATCHER_ACK_WAIT="+opts.AckWait.String())
	}
	// Registered before the processes' own cleanups, so it runs after them
	// and shows the whole output, shutdown included.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.procs {
			t.Logf("---- %s output (exit code %d) ----\n%s", p.name, p.exitCode(), p.out.String())
		}
	})
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s.DB = pool

	s.Ingress = s.start("ingress", "ingress")
	s.IngressURLs = []string{s.URL}
	s.waitReady(s.Ingress, s.URL)
	for i := 1; i < opts.Ingresses; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		p := s.start(fmt.Sprintf("ingress-%d", i+1), "ingress", "INGRESS_ADDR="+addr, "EXTERNAL_URL=http://"+addr)
		s.waitReady(p, "http://"+addr)
		s.IngressURLs = append(s.IngressURLs, "http://"+addr)
	}
	for i := 0; i < opts.Dispatchers; i++ {
		s.Dispatchers = append(s.Dispatchers, s.StartDispatcher(opts.DispatcherEnv...))
	}
	for i := 0; i < opts.Runners; i++ {
		s.Runners = append(s.Runners, s.start(fmt.Sprintf("runner-sim-%d", i+1), "runner-sim",
			append([]string{fmt.Sprintf("RUNNER_NAME=runner-%d", i+1), "RUNNER_WORKDIR=" + s.t.TempDir()}, opts.RunnerEnv...)...))
	}
	return s
}

// start runs one binary with the stack's environment plus extra.
func (s *stack) start(name, binary string, extra ...string) *proc {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, binary))
	cmd.Env = append(append([]string{}, s.env...), extra...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(s.t, cmd.Start(), "start %s", name)
	p := &proc{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	s.t.Cleanup(func() { p.stop(10 * time.Second) })
	return p
}

// StartDispatcher starts one more dispatcher with the stack's environment
// plus extra.
func (s *stack) StartDispatcher(extra ...string) *proc {
	s.mu.Lock()
	n := 0
	for _, p := range s.procs {
		if strings.HasPrefix(p.name, "dispatcher") {
			n++
		}
	}
	s.mu.Unlock()
	return s.start(fmt.Sprintf("dispatcher-%d", n+1), "dispatcher", extra...)
}

// KillDispatcher ends dispatcher i with SIGKILL, as a crash would.
func (s *stack) KillDispatcher(i int) {
	s.Dispatchers[i].kill()
}

// RestartDispatcher kills dispatcher i and starts a fresh one (normal
// environment) in its place.
func (s *stack) RestartDispatcher(i int) *proc {
	s.Dispatchers[i].kill()
	s.Dispatchers[i] = s.StartDispatcher()
	return s.Dispatchers[i]
}

// waitReady polls an ingress's GET /-/readiness until it answers 200.
func (s *stack) waitReady(p *proc, base string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.exited() {
			s.t.Fatalf("%s exited before it was ready (code %d):\n%s", p.name, p.exitCode(), p.out.String())
		}
		resp, err := s.http.Get(base + "/-/readiness")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s not ready within 30s (last error %v)", p.name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventually polls cond every 50 ms until it holds, failing after d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logLevel is the binaries' LOG_LEVEL: warn, unless E2E_LOG_LEVEL says
// otherwise (debug shows every request when a test needs explaining).
func logLevel() string {
	if l := os.Getenv("E2E_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func hexToken() string { return strings.TrimPrefix(secret.NewPersonalToken(), secret.PersonalPrefix) }

// ---- HTTP ----

// call is one HTTP request to the ingress. Path is under /api/v4 unless it
// starts with /api/ or /-/.
type call struct {
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

// reply is what the ingress answered.
type reply struct {
	Status int
	Body   []byte
	Header http.Header
}

// Text is the body without its trailing newline.
func (r reply) Text() string { return strings.TrimRight(string(r.Body), "\n") }

func (s *stack) url(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	if strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/-/") {
		return s.URL + path
	}
	return s.URL + "/api/v4" + path
}

func (s *stack) do(t testing.TB, c call) reply {
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
	req, err := http.NewRequest(c.Method, s.url(c.Path), body)
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
	resp, err := s.http.Do(req)
	require.NoError(t, err, "%s %s", c.Method, c.Path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

// get is a GET with a personal access token.
func (s *stack) get(t testing.TB, path, token string) reply {
	t.Helper()
	return s.do(t, call{Method: http.MethodGet, Path: path, Token: token})
}

// form is a request with a form body and a personal access token.
func (s *stack) form(t testing.TB, method, path, token string, form url.Values) reply {
	t.Helper()
	return s.do(t, call{Method: method, Path: path, Token: token, Form: form})
}

// decode requires the status and decodes the JSON body into a T.
func decode[T any](t testing.TB, r reply, status int) T {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	var v T
	require.NoError(t, json.Unmarshal(r.Body, &v), "body: %s", r.Body)
	return v
}

// ---- GitLab entities, as far as the tests read them ----

type userJSON struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	State    string `json:"state"`
}

type pipelineJSON struct {
	ID         int64     `json:"id"`
	IID        int64     `json:"iid"`
	ProjectID  int64     `json:"project_id"`
	SHA        string    `json:"sha"`
	Ref        string    `json:"ref"`
	Status     string    `json:"status"`
	Source     string    `json:"source"`
	Tag        bool      `json:"tag"`
	YAMLErrors *string   `json:"yaml_errors"`
	User       *userJSON `json:"user"`
	WebURL     string    `json:"web_url"`
}

type jobJSON struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Stage  string `json:"stage"`
	Status string `json:"status"`
	Ref    string `json:"ref"`
}

type variableJSON struct {
	Key          string `json:"key"`
	Value        string `json:"value"`
	VariableType string `json:"variable_type"`
}

type triggerJSON struct {
	ID          int64     `json:"id"`
	Token       string    `json:"token"`
	Description string    `json:"description"`
	CreatedAt   string    `json:"created_at"`
	UpdatedAt   string    `json:"updated_at"`
	LastUsed    *string   `json:"last_used"`
	ExpiresAt   *string   `json:"expires_at"`
	Owner       *userJSON `json:"owner"`
}

// ---- scenario set-up through the real API ----

// user is a user made through the admin API, with a personal access token.
type user struct {
	ID       int64
	Username string
	Token    string
}

// createUser makes a user (POST /users as the admin) and a personal access
// token for it (POST /users/:id/personal_access_tokens).
func (s *stack) createUser(t testing.TB, prefix string) user {
	t.Helper()
	name := testenv.Name(prefix)
	u := decode[userJSON](t, s.form(t, http.MethodPost, "/users", s.AdminToken, url.Values{
		"username": {name}, "name": {"User " + name}, "email": {name + "@example.com"},
		"password": {"Sup3r-Secret-Passw0rd!"}, "skip_confirmation": {"true"},
	}), http.StatusCreated)
	require.Equal(t, name, u.Username)
	pat := decode[struct {
		Token string `json:"token"`
	}](t, s.form(t, http.MethodPost, fmt.Sprintf("/users/%d/personal_access_tokens", u.ID), s.AdminToken, url.Values{
		"name": {"e2e"}, "scopes[]": {"api"},
	}), http.StatusCreated)
	require.NotEmpty(t, pat.Token)
	return user{ID: u.ID, Username: u.Username, Token: pat.Token}
}

// project is a project made through the API.
type project struct {
	ID   int64
	Path string // path_with_namespace
	// Enc is the URL-encoded full path, usable as :id.
	Enc string
}

// createProject makes a private project owned by owner, and commits
// ciConfig as .gitlab-ci.yml on master when it is not empty.
func (s *stack) createProject(t testing.TB, owner user, ciConfig string) project {
	t.Helper()
	name := testenv.Name("proj")
	p := decode[struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	}](t, s.form(t, http.MethodPost, "/projects", owner.Token, url.Values{"name": {name}, "path": {name}}), http.StatusCreated)
	require.Equal(t, owner.Username+"/"+name, p.PathWithNamespace)
	// PathEscape encodes the slash: user%2Fproject, one path segment.
	pr := project{ID: p.ID, Path: p.PathWithNamespace, Enc: url.PathEscape(p.PathWithNamespace)}
	if ciConfig != "" {
		s.commitCI(t, owner.Token, pr.ID, "master", ciConfig, false)
	}
	return pr
}

// commitCI commits .gitlab-ci.yml to branch: created (POST) or, with
// update, replaced (PUT).
func (s *stack) commitCI(t testing.TB, token string, projectID int64, branch, content string, update bool) {
	t.Helper()
	method, want := http.MethodPost, http.StatusCreated
	if update {
		method, want = http.MethodPut, http.StatusOK
	}
	r := s.form(t, method, fmt.Sprintf("/projects/%d/repository/files/.gitlab-ci.yml", projectID), token, url.Values{
		"branch": {branch}, "content": {content}, "commit_message": {"CI config for " + branch},
	})
	require.Equal(t, want, r.Status, "commit .gitlab-ci.yml to %s: %s", branch, r.Body)
}

// createBranch makes branch from ref and returns its commit id.
func (s *stack) createBranch(t testing.TB, token string, projectID int64, branch, ref string) string {
	t.Helper()
	b := decode[struct {
		Name   string `json:"name"`
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}](t, s.form(t, http.MethodPost, fmt.Sprintf("/projects/%d/repository/branches", projectID), token,
		url.Values{"branch": {branch}, "ref": {ref}}), http.StatusCreated)
	require.Equal(t, branch, b.Name)
	return b.Commit.ID
}

// createTag makes a lightweight tag at ref and returns its commit id.
func (s *stack) createTag(t testing.TB, token string, projectID int64, tag, ref string) string {
	t.Helper()
	b := decode[struct {
		Name   string `json:"name"`
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}](t, s.form(t, http.MethodPost, fmt.Sprintf("/projects/%d/repository/tags", projectID), token,
		url.Values{"tag_name": {tag}, "ref": {ref}}), http.StatusCreated)
	require.Equal(t, tag, b.Name)
	return b.Commit.ID
}

// createTrigger makes a trigger token and returns it as its owner sees it.
func (s *stack) createTrigger(t testing.TB, token string, projectID int64, description string) triggerJSON {
	t.Helper()
	tr := decode[triggerJSON](t, s.form(t, http.MethodPost, fmt.Sprintf("/projects/%d/triggers", projectID), token,
		url.Values{"description": {description}}), http.StatusCreated)
	require.Regexp(t, `^glptt-[0-9a-f]{40}$`, tr.Token)
	return tr
}

// addMember gives u a role in the project.
func (s *stack) addMember(t testing.TB, token string, projectID int64, u user, level int) {
	t.Helper()
	r := s.form(t, http.MethodPost, fmt.Sprintf("/projects/%d/members", projectID), token, url.Values{
		"user_id": {strconv.FormatInt(u.ID, 10)}, "access_level": {strconv.Itoa(level)},
	})
	require.Equal(t, http.StatusCreated, r.Status, "add member: %s", r.Body)
}

// triggerPipeline calls the trigger API with a JSON body.
func (s *stack) triggerPipeline(t testing.TB, projectID any, token, ref string, vars map[string]string, header map[string]string) reply {
	t.Helper()
	body := map[string]any{"token": token, "ref": ref}
	if vars != nil {
		body["variables"] = vars
	}
	return s.do(t, call{Method: http.MethodPost, Path: fmt.Sprintf("/projects/%v/trigger/pipeline", projectID), JSON: body, Header: header})
}

// pipelineCount counts a project's pipelines in the database.
func (s *stack) pipelineCount(t testing.TB, projectID int64) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM pipelines WHERE project_id = $1`, projectID).Scan(&n))
	return n
}

// listPipelines reads a project's pipelines through the API.
func (s *stack) listPipelines(t testing.TB, token string, projectID int64, query string) []pipelineJSON {
	t.Helper()
	path := fmt.Sprintf("/projects/%d/pipelines?per_page=100", projectID)
	if query != "" {
		path += "&" + query
	}
	return decode[[]pipelineJSON](t, s.get(t, path, token), http.StatusOK)
}

// pipelineJobs reads a pipeline's jobs through the API.
func (s *stack) pipelineJobs(t testing.TB, token string, projectID, pipelineID int64) []jobJSON {
	t.Helper()
	return decode[[]jobJSON](t, s.get(t, fmt.Sprintf("/projects/%d/pipelines/%d/jobs?per_page=100", projectID, pipelineID), token), http.StatusOK)
}

// pipelineVariables reads a pipeline's variables through the API.
func (s *stack) pipelineVariables(t testing.TB, token string, projectID, pipelineID int64) map[string]string {
	t.Helper()
	vars := decode[[]variableJSON](t, s.get(t, fmt.Sprintf("/projects/%d/pipelines/%d/variables", projectID, pipelineID), token), http.StatusOK)
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.Key] = v.Value
	}
	return m
}

// docsCI is the three-stage .gitlab-ci.yml of GitLab's trigger
// documentation ("Making use of trigger variables").
const docsCI = `stages:
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

// jobStages maps job name to stage.
func jobStages(jobs []jobJSON) map[string]string {
	m := make(map[string]string, len(jobs))
	for _, j := range jobs {
		m[j.Name] = j.Stage
	}
	return m
}

// docsJobStages is the job -> stage map docsCI must produce.
var docsJobStages = map[string]string{"run_tests": "test", "build_package": "build", "upload_package": "package"}
