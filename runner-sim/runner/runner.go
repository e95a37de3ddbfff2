// Package runner is the simulated runner: it takes pending jobs from the
// JOBS stream, claims each from a dispatcher (which marks it running and
// issues its CI job token), runs before_script, script and after_script in
// the shell simulator with the job's variables as environment, streams the
// log, and publishes the result to the JOB_EVENTS stream.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/shellsim"
)

// Config tunes a runner process.
type Config struct {
	Name        string
	Concurrency int
	WorkDir     string
	// CommandDuration is how long a simulated command (make, npm…) takes.
	CommandDuration time.Duration
	// FailureRate is the probability that a simulated command fails.
	FailureRate float64
	// ClaimTimeout bounds the wait for a dispatcher's answer to one
	// attempt of a claim (default 5 s).
	ClaimTimeout time.Duration
	// RetryFor bounds how long a claim that gets no answer is retried,
	// under the same claim id, before the job message is given back, and
	// how long a job's result is retried when NATS does not take it
	// (default 2 min).
	RetryFor time.Duration
	// AckWait is the JOBS consumer's ack wait (default DefaultAckWait): a
	// job message is kept with InProgress every third of it while it is
	// claimed and run, so that it is redelivered only when this runner is
	// gone.
	AckWait time.Duration
}

// Runner runs jobs. Any number of runners, in any number of processes,
// share the durable JOBS consumer.
type Runner struct {
	cfg  Config
	log  *slog.Logger
	nc   *nats.Conn
	js   jetstream.JetStream
	cons jetstream.Consumer
	http *http.Client
	mu   sync.Mutex
	rnd  *rand.Rand
}

// New makes a runner.
func New(cfg Config, log *slog.Logger, nc *nats.Conn, js jetstream.JetStream, cons jetstream.Consumer) *Runner {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 4
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = 5 * time.Second
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = 2 * time.Minute
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	return &Runner{cfg: cfg, log: log, nc: nc, js: js, cons: cons,
		http: &http.Client{Timeout: 60 * time.Second}, rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))}
}

// Run takes jobs until ctx ends, then lets running jobs finish.
func (r *Runner) Run(ctx context.Context) error {
	if err := os.MkdirAll(r.cfg.WorkDir, 0o755); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	// Jobs that started run to their end: no grace cancels them.
	return broker.Work(ctx, r.cons, broker.WorkOptions{Name: "jobs", Concurrency: r.cfg.Concurrency,
		PullMax: r.cfg.Concurrency, DrainWait: 10 * time.Second, Log: r.log.With("runner", r.cfg.Name)}, r.handle)
}

func (r *Runner) handle(ctx context.Context, m jetstream.Msg) {
	var job event.Job
	if err := json.Unmarshal(m.Data(), &job); err != nil || job.JobID == 0 {
		r.log.Error("dropping malformed job message", "err", err)
		_ = m.Term()
		return
	}
	log := r.log.With("job_id", job.JobID, "pipeline_id", job.PipelineID)
	// Keep the message ours while the claim is retried and the job runs.
	defer r.keepInProgress(m)()
	p, err := r.claim(ctx, job.JobID, log)
	if err != nil {
		log.Warn("claim not answered; giving the job message back", "err", err)
		_ = m.NakWithDelay(time.Second)
		return
	}
	if !p.OK {
		if p.Reason == event.ClaimRefused {
			_ = m.Ack() // another claim has it, or it was canceled
			return
		}
		log.Warn("claim refused; will retry", "reason", p.Reason)
		_ = m.NakWithDelay(time.Second)
		return
	}

	started := time.Now()
	res := r.run(ctx, p, log)
	data, _ := json.Marshal(res)
	// Repeats of the result are deduplicated by its message id.
	err = r.retry(ctx, "publish job result", log, func() error {
		pubCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := r.js.Publish(pubCtx, event.JobEventSubject(p.ProjectID), data,
			jetstream.WithMsgID("job-finished-"+strconv.FormatInt(p.JobID, 10)))
		return err
	})
	if err != nil {
		// Not acked: the job message comes back, the claim is refused
		// (the job is running), and the dispatcher's stuck-job handling
		// takes over.
		log.Error("publish job result", "err", err)
		return
	}
	countJob(res.Status, time.Since(started).Seconds())
	_ = m.Ack()
	log.Debug("job finished", "status", res.Status, "exit_code", res.ExitCode)
}

// DefaultAckWait is the JOBS consumer's default ack wait: how long the job
// messages a runner pulled and had not claimed yet wait, when it dies,
// before another runner gets them. A runner that is alive keeps its
// messages for as long as it needs them (keepInProgress). Messages pulled
// ahead that wait longer than this for a free slot of a busy runner go to
// another runner; whichever claims the job first runs it.
const DefaultAckWait = 30 * time.Second

// keepInProgress tells JetStream every third of the ack wait that m is
// still being worked on, so that a claim being retried or a job that runs
// longer than the ack wait keeps its message, until the returned function
// is called.
func (r *Runner) keepInProgress(m jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(r.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// claim asks the dispatchers for a job and returns their answer. Every
// attempt carries the same claim id, chosen here once for this job
// message: when an answer is lost (the dispatcher committed the claim and
// died, or NATS restarted, before the reply arrived), the next attempt is
// answered again instead of being refused, so the job runs here rather
// than being left to the stuck-job check. A redelivery of the message, here
// or to another runner, gets a new claim id and is refused while this
// claim holds the job. Attempts that get no answer, or an answer saying
// the dispatcher failed, are retried with backoff for RetryFor; after
// that the error is the last failure.
func (r *Runner) claim(ctx context.Context, jobID int64, log *slog.Logger) (event.JobPayload, error) {
	c := event.JobClaim{JobID: jobID, Runner: r.cfg.Name, ClaimID: uuid.NewString()}
	var p event.JobPayload
	attempt := func() error {
		c.Attempt++
		var err error
		p, err = broker.RequestClaim(r.nc, c, r.cfg.ClaimTimeout)
		switch {
		case errors.Is(err, nats.ErrConnectionClosed):
			return backoff.Permanent(err)
		case err != nil:
			return err
		case !p.OK && p.Reason == event.ClaimFailed:
			return errors.New(p.Reason)
		}
		return nil
	}
	err := r.retry(ctx, "claim", log, attempt)
	return p, err
}

// retry runs op until it succeeds, returns a backoff.Permanent error, or
// RetryFor has passed, backing off exponentially from 250 ms to 5 s.
func (r *Runner) retry(ctx context.Context, what string, log *slog.Logger, op func() error) error {
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(250*time.Millisecond),
		backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(r.cfg.RetryFor))
	return backoff.RetryNotify(op, backoff.WithContext(bo, ctx), func(err error, d time.Duration) {
		log.Warn(what+": will retry", "err", err, "in", d)
	})
}

// run executes a claimed job and returns its finished event.
func (r *Runner) run(ctx context.Context, p event.JobPayload, log *slog.Logger) event.JobEvent {
	res := event.JobEvent{Type: event.JobEventFinished, JobID: p.JobID, PipelineID: p.PipelineID, ProjectID: p.ProjectID, Runner: r.cfg.Name}
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A canceled job stops at once.
	if sub, err := r.nc.Subscribe(event.CancelSubject(p.JobID), func(*nats.Msg) { cancel() }); err == nil {
		defer func() { _ = sub.Unsubscribe() }()
	}

	dir := filepath.Join(r.cfg.WorkDir, "job-"+strconv.FormatInt(p.JobID, 10))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.Status, res.ExitCode, res.FailureReason = "failed", 1, "runner_system_failure"
		return res
	}
	defer os.RemoveAll(dir)

	trace := newTracer(r.js, p, log)
	defer trace.close()
	env := make(map[string]string, len(p.Variables))
	for _, v := range p.Variables {
		env[v.Key] = v.Value
	}
	fmt.Fprintf(trace, "Running with triggerd runner-sim on %s\n", r.cfg.Name)
	fmt.Fprintf(trace, "Executing \"step_script\" stage of the job script\n")
	opts := shellsim.Options{Dir: dir, Env: env, Stdout: trace, HTTPClient: r.http,
		SimulatedDuration: r.cfg.CommandDuration, FailureRate: r.cfg.FailureRate, Rand: r.rand()}
	code, err := shellsim.Run(jobCtx, append(slices.Clone(p.BeforeScript), p.Script...), opts)
	canceled := errors.Is(err, context.Canceled)
	if len(p.AfterScript) > 0 {
		fmt.Fprintf(trace, "Running after_script\n")
		afterCtx, cancelAfter := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		opts.Env = env
		if _, err := shellsim.Run(afterCtx, p.AfterScript, opts); err != nil {
			fmt.Fprintf(trace, "WARNING: after_script failed: %v\n", err)
		}
		cancelAfter()
	}
	// Artifacts (artifacts.go): collected after after_script, as GitLab
	// Runner does; an archive that cannot be stored fails the job.
	outcome := outcomeSuccess
	if canceled {
		outcome = outcomeCanceled
	} else if err != nil || code != 0 {
		outcome = outcomeFailed
	}
	upload := r.uploadArtifacts(ctx, p, dir, outcome, env, trace, log)
	res.ArtifactsObject, res.ArtifactsSize = upload.Object, upload.Size
	// End of artifacts.
	switch {
	case canceled:
		fmt.Fprintf(trace, "ERROR: Job failed: canceled\n")
		res.Status, res.ExitCode, res.FailureReason = "canceled", 1, ""
	case err != nil:
		fmt.Fprintf(trace, "ERROR: Job failed (system failure): %v\n", err)
		res.Status, res.ExitCode, res.FailureReason = "failed", 1, "runner_system_failure"
	case code != 0:
		fmt.Fprintf(trace, "ERROR: Job failed: exit code %d\n", code)
		res.Status, res.ExitCode, res.FailureReason = "failed", code, "script_failure"
		res.AllowFailure = slices.Contains(p.AllowFailureExitCodes, code)
	case upload.FailureReason != "": // artifacts
		fmt.Fprintf(trace, "ERROR: Job failed: exit code 1\n")
		res.Status, res.ExitCode, res.FailureReason = "failed", 1, upload.FailureReason
	default:
		fmt.Fprintf(trace, "Job succeeded\n")
		res.Status = "success"
	}
	res.Trace = trace.final()
	return res
}

func (r *Runner) rand() *rand.Rand {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rand.New(rand.NewPCG(r.rnd.Uint64(), r.rnd.Uint64()))
}
