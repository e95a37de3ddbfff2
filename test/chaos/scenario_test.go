package chaos

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/testenv"
	"github.com/triggerd/triggerd/test/harness"
)

// natsKind is the NATS server a case runs against.
type natsKind int

const (
	// natsHarness is the harness's embedded server, never restarted.
	natsHarness natsKind = iota
	// natsProcess is a nats-server process the case can kill.
	natsProcess
	// natsEmbedded is a server embedded in the test process that the case
	// can restart.
	natsEmbedded
)

// chaosCase is one fault under load.
type chaosCase struct {
	Name string
	// About says what the case does, Why what makes it pass; both go into
	// docs/RELIABILITY.md.
	About, Why string
	Opts       harness.Opts
	NATS       natsKind
	// Postgres runs a private cluster the case can crash.
	Postgres bool
	// Rate is triggers per second; Load how long they are sent at least
	// (always until a few seconds after the fault ends).
	Rate float64
	Load time.Duration
	// FaultAt is when, after the load started, the fault starts.
	FaultAt time.Duration
	// Tail is how long triggers are still sent after the fault ended
	// (default 5 s).
	Tail time.Duration
	// JobSleep is how long each job's script sleeps, in seconds.
	JobSleep string
	// DrainWithin is how long after the load's end the backlog may take to
	// drain (default 3 min).
	DrainWithin time.Duration
	// NoStuckJobs fails the case if any job was failed as stuck: for
	// faults that kill no runner, every job's runner is alive and must get
	// its claim answered and its result through.
	NoStuckJobs bool
	// Fault injects the fault and returns when it is over, saying what it
	// did ("6 kills").
	Fault func(f *faultEnv) string
}

// faultEnv is what a fault can break.
type faultEnv struct {
	t    *testing.T
	s    *harness.Stack
	nats *natsServer
	emb  *embeddedNATS
	pg   *pgServer
	// jobsRunning reports how many jobs run right now.
	jobsRunning func() int
}

// result is what a case measured.
type result struct {
	Case            string
	Fault           string
	Sent            int
	Accepted        int
	Rejected        int // a definite 4xx
	Pipelines       int // upstream and downstream
	Duplicates      int // keys with more than one pipeline, and pipelines of no key
	Missing         int // accepted triggers without a pipeline (or without a final 201)
	JobsCompleted   int // completion reports
	CompletedTwice  int // (pipeline, job) pairs that reported completion more than once
	Interrupted     int // jobs that completed their script but were failed (runner killed before reporting)
	FanoutExpected  int
	FanoutSeen      int
	RecoveryFirst   time.Duration // fault end → first 201 of a trigger sent after it
	RecoveryDrained time.Duration // fault end → every trigger answered and every pipeline finished
	Failures        []string
}

// Pass is whether every check held.
func (r result) Pass() bool { return len(r.Failures) == 0 }

func (r *result) failf(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// ciUpstream is the upstream project's .gitlab-ci.yml: two stages of jobs
// that sleep and report completion as their last line, then a bridge to
// the downstream project.
const ciUpstream = `stages: [build, test, fan]
compile:
  stage: build
  script: [echo compile, sleep %[1]s, "%[2]s"]
lint:
  stage: build
  script: [echo lint, sleep %[1]s, "%[2]s"]
unit:
  stage: test
  script: [echo unit, sleep %[1]s, "%[2]s"]
downstream:
  stage: fan
  trigger:
    project: %[3]s
`

const ciDownstream = `deploy:
  script: [echo deploy, sleep %[1]s, "%[2]s"]
`

// doneLine is the last script line of every job.
func doneLine(l *listener) string {
	return "curl -fsS -X POST " + l.URL + "/done/$CI_JOB_ID/$CI_PIPELINE_ID/$CI_JOB_NAME"
}

// runCase runs c and returns what it measured; failed checks are test
// errors too.
func runCase(t *testing.T, c chaosCase) result {
	t.Helper()
	fe := &faultEnv{t: t}
	opts := c.Opts
	switch c.NATS {
	case natsProcess:
		fe.nats = startNATSServer(t)
		opts.NATSURL = fe.nats.URL()
	case natsEmbedded:
		fe.emb = startEmbeddedNATS(t)
		opts.NATSURL = fe.emb.URL()
	}
	if c.Postgres {
		fe.pg = startPostgres(t)
		opts.PostgresURL = fe.pg.URL()
	}
	s := harness.Start(t, opts)
	fe.s = s
	if fe.nats != nil {
		s.Track(fe.nats.proc)
		fe.nats.track = s.Track
	}
	if fe.pg != nil {
		s.Track(fe.pg.proc)
		fe.pg.track = s.Track
	}
	l := startListener(t)
	owner := s.CreateUser(t, "chaos")
	down := s.CreateProject(t, owner, fmt.Sprintf(ciDownstream, c.JobSleep, doneLine(l)))
	up := s.CreateProject(t, owner, fmt.Sprintf(ciUpstream, c.JobSleep, doneLine(l), down.Path))
	tok := s.CreateTrigger(t, owner.Token, up.ID, "chaos").Token
	fe.jobsRunning = func() int {
		var n int
		_ = s.DB.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE status = 'running'`).Scan(&n)
		return n
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := newClient(s.URL, up.ID, tok, testenv.Name("chaos-")+"-")

	// The fault runs beside the load; the load goes on until a few
	// seconds after the fault's end, so that recovery is measured on
	// triggers sent after it.
	var faultEnd time.Time
	var faultDesc string
	var mu sync.Mutex
	faultDone := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(faultDone)
		// Set even when the fault fails the test (t.Fatalf ends this
		// goroutine), so that the load stops.
		desc := "did not complete"
		defer func() {
			mu.Lock()
			faultEnd, faultDesc = time.Now(), desc
			mu.Unlock()
		}()
		time.Sleep(c.FaultAt) // when the fault strikes: part of the scenario, not a synchronisation
		desc = c.Fault(fe)
	}()
	tick := time.NewTicker(time.Duration(float64(time.Second) / c.Rate))
	func() {
		defer tick.Stop()
		for range tick.C {
			cl.send(ctx)
			mu.Lock()
			end := faultEnd
			mu.Unlock()
			if time.Since(start) >= c.Load && !end.IsZero() && time.Since(end) >= cmp.Or(c.Tail, 5*time.Second) {
				return
			}
			if time.Since(start) > c.Load+5*time.Minute {
				t.Errorf("the fault did not end within 5 minutes")
				return
			}
		}
	}()
	<-faultDone

	// Drain: every trigger answered, every pipeline finished, no bridge
	// waiting for its downstream.
	drainWithin := cmp.Or(c.DrainWithin, 3*time.Minute)
	drainDeadline := time.Now().Add(drainWithin)
	var drainedAt time.Time
	for {
		if cl.unresolved() == 0 && openWork(t, s, up.ID, down.ID) == 0 {
			drainedAt = time.Now()
			break
		}
		if time.Now().After(drainDeadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	cl.wg.Wait()

	r := check(t, s, cl, l, up.ID, down.ID)
	r.Case, r.Fault = c.Name, faultDesc
	r.RecoveryFirst = -1
	for _, tr := range cl.snapshot() {
		if tr.FirstAt.After(faultEnd) && tr.Status == 201 {
			if d := tr.AnsweredAt.Sub(faultEnd); r.RecoveryFirst < 0 || d < r.RecoveryFirst {
				r.RecoveryFirst = d
			}
		}
	}
	if r.RecoveryFirst < 0 {
		r.failf("no trigger sent after the fault succeeded")
	}
	if drainedAt.IsZero() {
		r.RecoveryDrained = -1
		r.failf("backlog not drained within %s of the load's end: %d triggers unanswered, %d pipelines or bridges open",
			drainWithin, cl.unresolved(), openWork(t, s, up.ID, down.ID))
	} else {
		r.RecoveryDrained = drainedAt.Sub(faultEnd)
	}
	if c.NoStuckJobs {
		var stuck []int64
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM jobs
			WHERE failure_reason = 'stuck_or_timeout_failure'`).Scan(&stuck))
		if len(stuck) > 0 {
			r.failf("jobs failed as stuck though no runner died: %v", stuck)
		}
	}
	t.Logf("%s", r.line())
	for _, f := range r.Failures {
		t.Errorf("%s: %s", c.Name, f)
	}
	return r
}

// openWork counts what is not finished yet: pipelines of either project
// that are not final, and bridges still waiting for their downstream.
func openWork(t *testing.T, s *harness.Stack, projects ...int64) int {
	var n int
	err := s.DB.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM pipelines WHERE project_id = ANY($1) AND status NOT IN ('success', 'failed', 'canceled', 'skipped'))
		+ (SELECT count(*) FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id
		   WHERE p.project_id = ANY($1) AND j.kind = 'bridge' AND j.status = 'pending' AND j.downstream_pipeline_id IS NULL)`,
		projects).Scan(&n)
	if err != nil {
		return -1 // the database may be restarting; not drained
	}
	return n
}

// check compares what the client was told, what the listener heard and
// what the database holds.
func check(t *testing.T, s *harness.Stack, cl *client, l *listener, upID, downID int64) result {
	t.Helper()
	ctx := context.Background()
	var r result
	triggers := cl.snapshot()
	r.Sent = len(triggers)

	type plRow struct {
		ID            int64
		ProjectID     int64
		EventID       *string
		UpstreamJobID *int64
	}
	pls, err := pgxCollect[plRow](s, ctx, `SELECT id, project_id, event_id, upstream_job_id FROM pipelines WHERE project_id = ANY($1)`, []int64{upID, downID})
	require.NoError(t, err)
	r.Pipelines = len(pls)
	byEvent := map[string][]int64{}
	downByBridge := map[int64][]int64{}
	for _, p := range pls {
		switch {
		case p.ProjectID == upID && p.EventID != nil:
			byEvent[*p.EventID] = append(byEvent[*p.EventID], p.ID)
		case p.ProjectID == upID:
			r.Duplicates++
			r.failf("upstream pipeline %d has no event id", p.ID)
		case p.UpstreamJobID != nil:
			downByBridge[*p.UpstreamJobID] = append(downByBridge[*p.UpstreamJobID], p.ID)
		default:
			r.Duplicates++
			r.failf("downstream pipeline %d has no upstream job", p.ID)
		}
	}
	known := map[string]bool{}
	for _, tr := range triggers {
		known[tr.EventID] = true
		ids := byEvent[tr.EventID]
		if len(ids) > 1 {
			r.Duplicates++
			r.failf("key %s has %d pipelines %v", tr.Key, len(ids), ids)
		}
		if tr.Status >= 400 {
			r.Rejected++
			r.failf("key %s was rejected with %d", tr.Key, tr.Status)
		}
		if !tr.Accepted {
			continue
		}
		r.Accepted++
		switch {
		case tr.Status != 201:
			r.Missing++
			r.failf("key %s was accepted but never answered 201 (last: %s, %d attempts)", tr.Key, tr.LastErr, tr.Attempts)
		case len(ids) == 0:
			r.Missing++
			r.failf("key %s was answered 201 with pipeline %d, which does not exist", tr.Key, tr.PipelineID)
		case ids[0] != tr.PipelineID:
			r.failf("key %s was answered with pipeline %d, but its pipeline is %d", tr.Key, tr.PipelineID, ids[0])
		}
	}
	for ev, ids := range byEvent {
		if !known[ev] {
			r.Duplicates += len(ids)
			r.failf("pipelines %v belong to no key the client sent", ids)
		}
	}

	type jobRow struct {
		ID         int64
		PipelineID int64
		Name       string
		Kind       string
		Status     string
	}
	jobs, err := pgxCollect[jobRow](s, ctx, `SELECT j.id, j.pipeline_id, j.name, j.kind, j.status FROM jobs j
		JOIN pipelines p ON p.id = j.pipeline_id WHERE p.project_id = ANY($1)`, []int64{upID, downID})
	require.NoError(t, err)
	reports := l.reports()
	perJob := map[int64]int{}
	perPair := map[string]int{}
	for k, n := range reports {
		r.JobsCompleted += n
		perJob[k.JobID] += n
		perPair[fmt.Sprintf("%d/%s", k.PipelineID, k.Name)] += n
	}
	var twice []string
	for pair, n := range perPair {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s (%d times)", pair, n))
		}
	}
	sort.Strings(twice)
	r.CompletedTwice = len(twice)
	if len(twice) > 0 {
		r.failf("jobs completed more than once: %s", strings.Join(twice, ", "))
	}
	for _, j := range jobs {
		switch {
		case j.Kind == "bridge":
			if j.Status == "created" || j.Status == "skipped" || j.Status == "manual" || j.Status == "canceled" {
				continue
			}
			r.FanoutExpected++
			r.FanoutSeen += len(downByBridge[j.ID])
			if n := len(downByBridge[j.ID]); n != 1 {
				r.failf("bridge %d of pipeline %d has %d downstream pipelines", j.ID, j.PipelineID, n)
			}
			delete(downByBridge, j.ID)
		case j.Status == "success" && perJob[j.ID] != 1:
			r.failf("job %d (%s of pipeline %d) succeeded but reported completion %d times", j.ID, j.Name, j.PipelineID, perJob[j.ID])
		case j.Status != "success" && perJob[j.ID] > 0:
			r.Interrupted++
			t.Logf("job %d (%s of pipeline %d) completed its script but ended %s", j.ID, j.Name, j.PipelineID, j.Status)
		}
	}
	for bridge, ids := range downByBridge {
		r.Duplicates += len(ids)
		r.failf("downstream pipelines %v of bridge %d, which should have none", ids, bridge)
	}
	return r
}

// pgxCollect runs a query and scans its rows into Ts by position.
func pgxCollect[T any](s *harness.Stack, ctx context.Context, sql string, args ...any) ([]T, error) {
	rows, err := s.DB.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[T])
}

// line is the result in one line, as the run prints it.
func (r result) line() string {
	verdict := "PASS"
	if !r.Pass() {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s: %s | fault: %s | sent %d, accepted %d, rejected %d, pipelines %d, duplicates %d, missing %d, "+
		"jobs completed %d, completed twice %d, interrupted %d, fan-outs %d/%d, recovery first %s, drained %s",
		r.Case, verdict, r.Fault, r.Sent, r.Accepted, r.Rejected, r.Pipelines, r.Duplicates, r.Missing,
		r.JobsCompleted, r.CompletedTwice, r.Interrupted, r.FanoutSeen, r.FanoutExpected, dur(r.RecoveryFirst), dur(r.RecoveryDrained))
}

// dur prints a recovery time to the tenth of a second, "none" when it
// never happened.
func dur(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
