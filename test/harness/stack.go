// Package harness runs the real binaries of the service for end-to-end and
// chaos tests: it builds ingress, dispatcher and runner-sim once, starts
// them against a fresh Postgres database and a NATS server (embedded, or one
// the test runs itself), and talks to the ingress over HTTP exactly as
// GitLab's documented curl commands and stock GitLab clients do.
package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/testenv"
)

// Main is TestMain of a package of end-to-end tests: it checks that
// Postgres is reachable (failing, never skipping, with the command that
// starts it), builds ingress, dispatcher and runner-sim once for every
// test, and runs the tests. It returns the exit code.
func Main(m *testing.M) int {
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
	if err := Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	return m.Run()
}

// Opts tunes Start.
type Opts struct {
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
	// Env is extra environment of every process.
	Env []string
	// NATSURL is a NATS server the test runs itself; empty starts an
	// embedded one for the test.
	NATSURL string
	// PostgresURL is the Postgres server the test's database is created on
	// (default: TEST_DATABASE_URL or the local server).
	PostgresURL string
}

// Stack is the whole service running for one test: ingress, dispatchers and
// runner-sim over a fresh database and a NATS server.
type Stack struct {
	t          *testing.T
	URL        string // http://127.0.0.1:port, no trailing slash
	AdminToken string
	DBURL      string
	NATSURL    string
	DB         *pgxpool.Pool
	opts       Opts
	env        []string
	// HTTP is the client the helpers use (60 s timeout).
	HTTP *http.Client

	// IngressURLs are the base URLs of every ingress replica.
	IngressURLs []string

	mu          sync.Mutex
	procs       []*Proc
	Ingress     *Proc
	Dispatchers []*Proc
	Runners     []*Proc
}

// Start starts the service for t and stops it when t ends. Every
// process's output is printed when t fails.
func Start(t *testing.T, opts Opts) *Stack {
	t.Helper()
	if binDir == "" {
		t.Fatal("binaries were not built (TestMain did not call harness.Main)")
	}
	if opts.Dispatchers == 0 {
		opts.Dispatchers = 1
	}
	if opts.TriggerWait == 0 {
		opts.TriggerWait = 10 * time.Second
	}
	if opts.PostgresURL == "" {
		opts.PostgresURL = testenv.ServerURL()
	}
	dbURL := testenv.DatabaseOn(t, opts.PostgresURL)
	natsURL := opts.NATSURL
	if natsURL == "" {
		natsURL = testenv.NATS(t).URL()
	}
	port := FreePort(t)
	s := &Stack{
		t:          t,
		URL:        "http://127.0.0.1:" + strconv.Itoa(port),
		AdminToken: secret.NewPersonalToken(),
		DBURL:      dbURL,
		NATSURL:    natsURL,
		opts:       opts,
		HTTP:       &http.Client{Timeout: 60 * time.Second},
	}
	s.env = append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"NATS_URL="+s.NATSURL,
		"INGRESS_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"EXTERNAL_URL="+s.URL,
		"TRIGGERS_ADMIN_TOKEN="+s.AdminToken,
		"TRIGGERS_SECRET_KEY="+HexToken(),
		"TRIGGER_WAIT="+opts.TriggerWait.String(),
		"LOG_LEVEL="+logLevel(),
	)
	if opts.AckWait > 0 {
		s.env = append(s.env, "DISPATCHER_ACK_WAIT="+opts.AckWait.String())
	}
	s.env = append(s.env, opts.Env...)
	// Registered before the processes' own cleanups, so it runs after them
	// and shows the whole output, shutdown included.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.procs {
			t.Logf("---- %s output (exit code %d) ----\n%s", p.Name, p.ExitCode(), p.Output())
		}
	})
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s.DB = pool

	s.Ingress = s.Start("ingress", "ingress")
	s.IngressURLs = []string{s.URL}
	s.WaitReady(s.Ingress, s.URL)
	for i := 1; i < opts.Ingresses; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
		p := s.Start(fmt.Sprintf("ingress-%d", i+1), "ingress", "INGRESS_ADDR="+addr, "EXTERNAL_URL=http://"+addr)
		s.WaitReady(p, "http://"+addr)
		s.IngressURLs = append(s.IngressURLs, "http://"+addr)
	}
	for i := 0; i < opts.Dispatchers; i++ {
		s.Dispatchers = append(s.Dispatchers, s.StartDispatcher(opts.DispatcherEnv...))
	}
	for i := 0; i < opts.Runners; i++ {
		s.Runners = append(s.Runners, s.StartRunner())
	}
	return s
}

// Start runs one binary with the stack's environment plus extra; it is
// stopped when the test ends.
func (s *Stack) Start(name, binary string, extra ...string) *Proc {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, binary))
	cmd.Env = append(append([]string{}, s.env...), extra...)
	p, err := StartProc(name, cmd)
	require.NoError(s.t, err)
	s.Track(p)
	s.t.Cleanup(func() { p.Stop(10 * time.Second) })
	return p
}

// Track adds a process the test started itself (a NATS or Postgres server)
// to those whose output is shown when the test fails. Stopping it is the
// caller's business.
func (s *Stack) Track(p *Proc) {
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
}

// count is how many processes whose name starts with prefix were started.
func (s *Stack) count(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.procs {
		if strings.HasPrefix(p.Name, prefix) {
			n++
		}
	}
	return n
}

// StartDispatcher starts one more dispatcher with the stack's environment
// plus extra.
func (s *Stack) StartDispatcher(extra ...string) *Proc {
	return s.Start(fmt.Sprintf("dispatcher-%d", s.count("dispatcher")+1), "dispatcher", extra...)
}

// KillDispatcher ends dispatcher i with SIGKILL, as a crash would.
func (s *Stack) KillDispatcher(i int) {
	s.Dispatchers[i].Kill()
}

// RestartDispatcher kills dispatcher i and starts a fresh one (normal
// environment) in its place.
func (s *Stack) RestartDispatcher(i int) *Proc {
	s.Dispatchers[i].Kill()
	s.Dispatchers[i] = s.StartDispatcher()
	return s.Dispatchers[i]
}

// StartRunner starts one more runner-sim with the stack's runner
// environment, in a workspace of its own.
func (s *Stack) StartRunner() *Proc {
	n := s.count("runner-sim") + 1
	return s.Start(fmt.Sprintf("runner-sim-%d", n), "runner-sim",
		append([]string{fmt.Sprintf("RUNNER_NAME=runner-%d", n), "RUNNER_WORKDIR=" + s.t.TempDir()}, s.opts.RunnerEnv...)...)
}

// RestartIngress kills the first ingress with SIGKILL and starts a fresh
// one on the same address, returning once it is ready.
func (s *Stack) RestartIngress() *Proc {
	s.t.Helper()
	s.Ingress.Kill()
	s.Ingress = s.Start(fmt.Sprintf("ingress-restart-%d", s.count("ingress-restart")+1), "ingress")
	s.WaitReady(s.Ingress, s.URL)
	return s.Ingress
}

// WaitReady polls an ingress's GET /-/readiness until it answers 200.
func (s *Stack) WaitReady(p *Proc, base string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.Exited() {
			s.t.Fatalf("%s exited before it was ready (code %d):\n%s", p.Name, p.ExitCode(), p.Output())
		}
		resp, err := s.HTTP.Get(base + "/-/readiness")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s not ready within 30s (last error %v)", p.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Eventually polls cond every 50 ms until it holds, failing after d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
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

// FreePort is a TCP port on 127.0.0.1 that nothing listened on a moment
// ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// HexToken is 40 random hex digits, e.g. a TRIGGERS_SECRET_KEY.
func HexToken() string { return strings.TrimPrefix(secret.NewPersonalToken(), secret.PersonalPrefix) }
