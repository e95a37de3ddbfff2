// Command load drives a running triggerd, or the ceiling yardstick, over
// HTTP and reports what it measured.
//
// It sets up what it needs through the API itself (a user, projects with a
// .gitlab-ci.yml, trigger tokens, and for the job-token form a running job
// that hands its CI_JOB_TOKEN to this tool), then sends trigger requests at a
// fixed offered rate (open loop, -rate) or from a fixed number of workers
// (closed loop, -rate 0), in a mix of the forms GitLab documents. Latency is
// measured from the moment a request was due to be sent, so a stalled server
// cannot hide its stall (no coordinated omission), and kept in an HDR
// histogram. A progress line is printed while it runs; the result is printed
// as a table and, with -json, written as JSON.
//
// With -schedules N it measures a cron burst instead: N active schedules due
// at the same minute boundary, ordinary triggers at -rate during the burst,
// and the time from the boundary until all N schedule pipelines exist.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/triggerd/triggerd/internal/conf"
	"github.com/triggerd/triggerd/test/loadresult"
)

// config is the command line.
type config struct {
	URL         string
	AdminToken  string
	Label       string
	Ceiling     bool
	Projects    int
	Jobs        int
	Variables   int
	Rate        float64
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	Mix         string
	Keys        string
	RepeatKeys  int
	Async       bool
	WaitE2E     time.Duration
	JSON        string
	Quiet       bool
	Listen      string
	DatabaseURL string
	Schedules   int
	Lead        time.Duration
}

func main() {
	conf.TuneGC()
	var c config
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "base URL of the ingress (or of the ceiling handler with -ceiling)")
	fs.StringVar(&c.AdminToken, "admin-token", os.Getenv("TRIGGERS_ADMIN_TOKEN"), "administrator token used to set up users, projects and tokens")
	fs.StringVar(&c.Label, "label", "", "name of this run in the report")
	fs.BoolVar(&c.Ceiling, "ceiling", false, "the target is the ceiling handler: no setup, requests go to /")
	fs.IntVar(&c.Projects, "projects", 4, "projects the triggers are spread over")
	fs.IntVar(&c.Jobs, "jobs", 3, "jobs in each project's pipeline (one stage each)")
	fs.IntVar(&c.Variables, "variables", 2, "variables sent with each trigger")
	fs.Float64Var(&c.Rate, "rate", 0, "offered requests per second (open loop); 0 = closed loop with -concurrency workers")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "workers (closed loop) or most requests in flight (open loop)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "how long to send")
	fs.DurationVar(&c.Warmup, "warmup", 0, "send the same load this long first, over the same connections, and leave it out of the figures")
	fs.StringVar(&c.Mix, "mix", "form=1", "weights of the trigger forms: form, query, json, webhook, jobtoken")
	fs.StringVar(&c.Keys, "keys", "unique", "Idempotency-Key per request: unique, repeat (a pool of -repeat-keys) or none")
	fs.IntVar(&c.RepeatKeys, "repeat-keys", 1000, "size of the key pool with -keys repeat")
	fs.BoolVar(&c.Async, "async", false, "ask for 202 Accepted (async=true) instead of waiting for the pipeline")
	fs.DurationVar(&c.WaitE2E, "wait", 2*time.Minute, "how long to wait after sending for every accepted pipeline to be visible")
	fs.StringVar(&c.JSON, "json", "", "also write the result as JSON to this file (- for stdout)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress line")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:0", "address of the listener a job posts its CI_JOB_TOKEN to (jobtoken form)")
	fs.StringVar(&c.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "Postgres of the stack, read by -schedules to see pipelines appear")
	fs.IntVar(&c.Schedules, "schedules", 0, "burst mode: this many schedules due at one minute boundary")
	fs.DurationVar(&c.Lead, "lead", 75*time.Second, "burst mode: the boundary is the first whole minute at least this far ahead")
	_ = fs.Parse(os.Args[1:])
	c.URL = strings.TrimRight(c.URL, "/")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	res.Print(os.Stdout)
	if c.JSON != "" {
		if err := writeJSON(c.JSON, res); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, c config) (*loadresult.Result, error) {
	mix, err := parseMix(c.Mix)
	if err != nil {
		return nil, err
	}
	if c.Keys != "unique" && c.Keys != "repeat" && c.Keys != "none" {
		return nil, fmt.Errorf("-keys must be unique, repeat or none, not %q", c.Keys)
	}
	if c.Concurrency < 1 || c.Projects < 1 || c.Jobs < 1 {
		return nil, fmt.Errorf("-concurrency, -projects and -jobs must be at least 1")
	}
	if c.Schedules > 0 {
		return runBurst(ctx, c, mix)
	}
	var fx *fixture
	if c.Ceiling {
		fx = ceilingFixture(c)
	} else {
		if fx, err = setUp(ctx, c, mix); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		defer fx.tearDown()
	}
	d := newDriver(c, fx, mix)
	if c.Warmup > 0 {
		if err := warmUp(ctx, d, c.Warmup); err != nil {
			return nil, err
		}
	}
	before, err := fx.pipelineCount(ctx)
	if err != nil {
		return nil, err
	}
	res := d.run(ctx, c.Duration)
	if !c.Ceiling {
		res.E2E, err = fx.waitVisible(ctx, d, before, c.WaitE2E)
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// warmUp sends d's load for dur with a driver of its own that shares d's
// HTTP client, so that the measured run starts with the connections it
// needs already open and the stack past its first requests, and waits
// until the pipelines it was promised are visible. Its figures are dropped.
func warmUp(ctx context.Context, d *driver, dur time.Duration) error {
	w := newDriver(d.c, d.fx, d.mix)
	w.hc, w.c.Quiet = d.hc, true
	before, err := d.fx.pipelineCount(ctx)
	if err != nil {
		return err
	}
	r := w.run(ctx, dur)
	fmt.Fprintf(os.Stderr, "warm-up: %d answers in %.1f s, p99 %.1f ms\n", r.Answered, r.Seconds, r.Latency.P99)
	if d.c.Ceiling {
		return nil
	}
	e2e, err := d.fx.waitVisible(ctx, w, before, d.c.WaitE2E)
	if err != nil {
		return err
	}
	if !e2e.Complete {
		return fmt.Errorf("warm-up: %d of %d pipelines visible after %v", e2e.Visible, e2e.Expected, d.c.WaitE2E)
	}
	return nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
