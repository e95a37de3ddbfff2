// Command bench is `make bench`: it starts the whole stack on this machine
// (Postgres from -database-url, an ingress with embedded NATS, dispatchers,
// the ceiling handler), drives it with the load tool, and writes every
// figure of one run into docs/BENCHMARKS.md:
//
//	(a) the ceiling: a minimal handler publishing to the same JetStream
//	(b) the ingress accept rate with async=true
//	(c) the end-to-end rate of the synchronous 201 path
//	(d) latency at half of (c)'s rate, open loop
//	(e) one vs two dispatcher processes
//	(f) the schedule burst: 10,000 schedules due at one minute
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/triggerd/triggerd/test/loadresult"
)

type config struct {
	Bin         string
	Out         string
	Work        string
	ServerURL   string
	Database    string
	Concurrency int
	// SyncConcurrency is the workers of the synchronous runs (c) and (e).
	SyncConcurrency int
	Sync            time.Duration
	Short           time.Duration
	Warmup          time.Duration
	Schedules       int
	SchedProjs      int
	BurstRate       float64
}

func main() {
	var c config
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.StringVar(&c.Bin, "bin", "bin", "directory holding ingress, dispatcher, ceiling and load")
	fs.StringVar(&c.Out, "out", "docs/BENCHMARKS.md", "report to write")
	fs.StringVar(&c.Work, "work", "tmp/bench", "directory for logs, NATS storage and raw JSON results")
	fs.StringVar(&c.ServerURL, "server-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "Postgres server (a database on it is created afresh)")
	fs.StringVar(&c.Database, "database", "triggerd_bench", "database created afresh for the run")
	fs.IntVar(&c.Concurrency, "concurrency", 128, "closed-loop workers of the throughput runs (a) and (b)")
	fs.IntVar(&c.SyncConcurrency, "sync-concurrency", 512, "closed-loop workers of the synchronous runs (c) and (e)")
	fs.DurationVar(&c.Sync, "sync", 60*time.Second, "length of run (c)")
	fs.DurationVar(&c.Short, "short", 20*time.Second, "length of runs (a), (b), (d), (e)")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "load sent before (d) and (d2), at their rate, and left out of their figures")
	fs.IntVar(&c.Schedules, "schedules", 10000, "schedules of the burst (f)")
	fs.IntVar(&c.SchedProjs, "schedule-projects", 100, "projects the burst's schedules are spread over")
	fs.Float64Var(&c.BurstRate, "burst-rate", 200, "ordinary triggers per second during the burst")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// figure is one measured run.
type figure struct {
	Key    string
	Name   string
	Result *loadresult.Result
}

func run(ctx context.Context, c config) error {
	for _, b := range []string{"ingress", "dispatcher", "ceiling", "load"} {
		if _, err := os.Stat(filepath.Join(c.Bin, b)); err != nil {
			return fmt.Errorf("%s: %w (run `make bench`, which builds it)", b, err)
		}
	}
	if err := os.RemoveAll(c.Work); err != nil {
		return err
	}
	if err := os.MkdirAll(c.Work, 0o755); err != nil {
		return err
	}
	dbURL, err := freshDatabase(ctx, c.ServerURL, c.Database)
	if err != nil {
		return err
	}
	st := &stack{c: c, dbURL: dbURL, ingress: "127.0.0.1:18080", nats: "127.0.0.1:14222", ceiling: "127.0.0.1:18090",
		admin: "glpat-bench-admin-token"}
	defer st.stopAll()
	if err := st.startIngress(ctx); err != nil {
		return err
	}
	dispatcher, err := st.start(ctx, "dispatcher-1", "dispatcher")
	if err != nil {
		return err
	}

	var figs []figure
	add := func(key, name string, r *loadresult.Result) {
		figs = append(figs, figure{Key: key, Name: name, Result: r})
	}
	conc, syncConc := strconv.Itoa(c.Concurrency), strconv.Itoa(c.SyncConcurrency)
	short := c.Short.String()
	// measure is one run, settled first: the writes of the run before are
	// on disk, so that it does not pay for them.
	measure := func(name string, args ...string) (*loadresult.Result, error) {
		if err := st.settle(ctx); err != nil {
			return nil, err
		}
		return st.load(ctx, name, args...)
	}

	// (a) the ceiling, on the same NATS server.
	ceil, err := st.start(ctx, "ceiling", "ceiling", "-addr", st.ceiling, "-nats-url", "nats://"+st.nats)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+st.ceiling+"/", http.StatusMethodNotAllowed); err != nil {
		return err
	}
	a, err := measure("a-ceiling", "-ceiling", "-url", "http://"+st.ceiling, "-concurrency", conc, "-duration", short)
	if err != nil {
		return err
	}
	add("a", "ceiling: minimal handler publishing to JetStream", a)
	ceil.stop()

	// (b) async accept rate of the ingress: the dispatcher is stopped
	// while the load runs, as if it were on another machine, and started
	// again after it to drain the backlog, which the load tool waits for.
	dispatcher.stop()
	if err := st.settle(ctx); err != nil {
		return err
	}
	restarted := make(chan error, 1)
	go func() {
		select {
		case <-time.After(c.Short + 2*time.Second):
		case <-ctx.Done():
		}
		_, err := st.start(ctx, "dispatcher-1-again", "dispatcher")
		restarted <- err
	}()
	b, err := st.load(ctx, "b-async", "-async", "-concurrency", conc, "-duration", short, "-wait", "5m")
	if e := <-restarted; err == nil {
		err = e
	}
	if err != nil {
		return err
	}
	add("b", "ingress accept rate, async=true, dispatcher stopped meanwhile", b)
	// (b2) the same while the dispatcher creates the pipelines on the same
	// cores.
	b2, err := measure("b2-async", "-async", "-concurrency", conc, "-duration", short, "-wait", "5m")
	if err != nil {
		return err
	}
	add("b2", "ingress accept rate, async=true, dispatcher draining meanwhile", b2)

	// (c) the synchronous 201 path, three jobs, two variables.
	cr, err := measure("c-sync", "-concurrency", syncConc, "-duration", c.Sync.String(), "-jobs", "3", "-variables", "2")
	if err != nil {
		return err
	}
	add("c", "end-to-end, synchronous 201, 3 jobs + 2 variables", cr)

	// (d) latency at half of (c)'s rate: first right after (c), with its
	// writes still going to disk, then settled as every other run.
	half := cr.AcceptedPerSecond / 2
	dArgs := []string{"-rate", strconv.FormatFloat(half, 'f', 0, 64), "-concurrency", "1024", "-duration", short, "-warmup", c.Warmup.String()}
	d2, err := st.load(ctx, "d2-latency-after-c", dArgs...)
	if err != nil {
		return err
	}
	add("d2", fmt.Sprintf("latency at 50%% of (c), open loop %.0f/s, right after (c), not settled", half), d2)
	d, err := measure("d-latency", dArgs...)
	if err != nil {
		return err
	}
	add("d", fmt.Sprintf("latency at 50%% of (c), open loop %.0f/s", half), d)

	// (e) one vs two dispatchers, same run length.
	e1, err := measure("e-1-dispatcher", "-concurrency", syncConc, "-duration", short)
	if err != nil {
		return err
	}
	add("e1", "synchronous, one dispatcher", e1)
	second, err := st.start(ctx, "dispatcher-2", "dispatcher")
	if err != nil {
		return err
	}
	e2, err := measure("e-2-dispatchers", "-concurrency", syncConc, "-duration", short)
	if err != nil {
		return err
	}
	add("e2", "synchronous, two dispatchers", e2)
	second.stop()

	// (f) the schedule burst, ordinary triggers at a fixed rate during it.
	f, err := measure("f-burst", "-schedules", strconv.Itoa(c.Schedules), "-projects", strconv.Itoa(c.SchedProjs),
		"-rate", strconv.FormatFloat(c.BurstRate, 'f', 0, 64), "-database-url", dbURL)
	if err != nil {
		return err
	}
	add("f", fmt.Sprintf("schedule burst: %d schedules due at one minute", c.Schedules), f)

	report := renderReport(c, figs)
	if err := os.WriteFile(c.Out, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Print(report)
	return nil
}

// freshDatabase drops and creates the bench database and returns its URL.
func freshDatabase(ctx context.Context, serverURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("postgres at %s: %w", serverURL, err)
	}
	defer conn.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", err
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// stack is the processes of the run.
type stack struct {
	c       config
	dbURL   string
	ingress string
	nats    string
	ceiling string
	admin   string
	procs   []*proc
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (s *stack) env() []string {
	return append(os.Environ(),
		"DATABASE_URL="+s.dbURL,
		"INGRESS_ADDR="+s.ingress,
		"EXTERNAL_URL=http://"+s.ingress,
		"TRIGGERS_ADMIN_TOKEN="+s.admin,
		"TRIGGERS_SECRET_KEY=bench-secret-key",
		"NATS_EMBEDDED_ADDR="+s.nats,
		"NATS_STORE_DIR="+filepath.Join(s.c.Work, "nats"),
		// (b) lets a backlog of about 200,000 events build up while the
		// dispatcher is stopped; the default depth would answer 429 past
		// 100,000.
		"INGRESS_MAX_QUEUE_DEPTH=1000000",
		"LOG_LEVEL=warn",
	)
}

// start runs a binary of c.Bin with its output in the work directory.
func (s *stack) start(ctx context.Context, name, binary string, args ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(s.c.Work, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(s.c.Bin, binary), args...)
	cmd.Env = s.env()
	if binary != "ingress" {
		cmd.Env = append(cmd.Env, "NATS_URL=nats://"+s.nats)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	s.procs = append(s.procs, p)
	return p, nil
}

func (s *stack) startIngress(ctx context.Context) error {
	p, err := s.start(ctx, "ingress", "ingress")
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+s.ingress+"/-/readiness", http.StatusOK); err != nil {
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(s.c.Work, "ingress.log"))
			return fmt.Errorf("ingress exited: %s", log)
		default:
		}
		return err
	}
	return nil
}

func (s *stack) stopAll() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
}

// load runs the load tool against the ingress (unless args say otherwise)
// and reads its JSON result.
func (s *stack) load(ctx context.Context, name string, args ...string) (*loadresult.Result, error) {
	out := filepath.Join(s.c.Work, name+".json")
	all := []string{"-url", "http://" + s.ingress, "-admin-token", s.admin, "-json", out, "-label", name}
	all = append(all, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(s.c.Bin, "load"), all...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	fmt.Fprintf(os.Stderr, "== %s: load %s\n", name, strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", name, err, stdout.String())
	}
	fmt.Fprint(os.Stderr, stdout.String())
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var r loadresult.Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	return &r, nil
}

// settle writes to disk what earlier runs left in the kernel's page cache
// and in Postgres's buffers (sync, CHECKPOINT, sync). Without it, the
// kernel's writeback of one run's data lands in the next, and a commit's
// WAL flush waits behind it: on this machine, commits of up to 280 ms,
// and p99 at half of (c)'s rate 150-200 ms instead of 36-39 ms.
func (s *stack) settle(ctx context.Context) error {
	start := time.Now()
	if err := exec.CommandContext(ctx, "sync").Run(); err != nil {
		return fmt.Errorf("settle: sync: %w", err)
	}
	conn, err := pgx.Connect(ctx, s.c.ServerURL)
	if err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("settle: CHECKPOINT (needs a superuser or pg_checkpoint): %w", err)
	}
	if err := exec.CommandContext(ctx, "sync").Run(); err != nil {
		return fmt.Errorf("settle: sync: %w", err)
	}
	fmt.Fprintf(os.Stderr, "== settled in %.1f s\n", time.Since(start).Seconds())
	return nil
}

// waitHTTP polls url until it answers want, for up to a minute.
func waitHTTP(ctx context.Context, u string, want int) error {
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
			last = fmt.Errorf("%s answered %d", u, resp.StatusCode)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.Join(fmt.Errorf("%s not ready within a minute", u), last)
}

// machine describes where the run happened.
func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])
		if len(f) >= 2 {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				mem = fmt.Sprintf(", %.0f GiB", kb/1024/1024)
			}
		}
	}
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	pg := ""
	if out, err := exec.Command("psql", "-XtAc", "SHOW server_version", "-h", "127.0.0.1", "-U", "postgres").Output(); err == nil {
		pg = ", Postgres " + strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d cores (%s)%s, %s%s, commit %s", runtime.NumCPU(), cpu, mem, runtime.Version(), pg, strings.TrimSpace(string(rev)))
}
