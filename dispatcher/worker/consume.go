package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/pipeline"
	"github.com/triggerd/triggerd/internal/store"
)

// Config tunes a Worker.
type Config struct {
	// Concurrency is how many events are processed at once.
	Concurrency int
	// ShutdownGrace bounds how long in-flight events may take to finish
	// after the context is cancelled.
	ShutdownGrace time.Duration
	// CrashAfterCommit makes the process exit right after committing the
	// first pipeline, before publishing, replying or acking. It is a fault
	// injection switch for the crash-recovery tests and nothing else.
	CrashAfterCommit bool
	// Limits bound hierarchies of multi-project pipelines.
	Limits Limits
	// BridgeRetry is how long and how often a bridge's downstream pipeline
	// is retried while its ref does not exist.
	BridgeRetry BridgeRetry
}

// Worker consumes trigger events and creates pipelines. Any number of
// workers, in any number of processes, may share the durable consumer.
type Worker struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
	nc   *nats.Conn
	js   jetstream.JetStream
	cons jetstream.Consumer
	c    *creator
}

// New makes a worker over the dispatcher consumer.
func New(cfg Config, log *slog.Logger, pool *pgxpool.Pool, nc *nats.Conn, js jetstream.JetStream, cons jetstream.Consumer) *Worker {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 16
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 20 * time.Second
	}
	if cfg.BridgeRetry.Initial <= 0 {
		cfg.BridgeRetry.Initial = DefaultBridgeRetryInitial
	}
	if cfg.BridgeRetry.MaxElapsed <= 0 {
		cfg.BridgeRetry.MaxElapsed = DefaultBridgeRetryMaxElapsed
	}
	return &Worker{cfg: cfg, log: log, pool: pool, nc: nc, js: js, cons: cons, c: newCreator(4096, cfg.Limits)}
}

// Run consumes until ctx is cancelled, then stops pulling, lets in-flight
// events finish within the grace period, and returns.
func (w *Worker) Run(ctx context.Context) error {
	return broker.Work(ctx, w.cons, broker.WorkOptions{Name: "trigger events", Concurrency: w.cfg.Concurrency,
		DrainWait: w.cfg.ShutdownGrace, Grace: w.cfg.ShutdownGrace, Log: w.log}, w.handle)
}

// retryDelay grows with each redelivery, up to 30 s.
func retryDelay(delivered uint64) time.Duration {
	d := 250 * time.Millisecond
	for i := uint64(1); i < delivered && d < 30*time.Second; i++ {
		d *= 2
	}
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	return d
}

func (w *Worker) handle(ctx context.Context, m jetstream.Msg) {
	var ev event.TriggerRequested
	if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.EventID == "" || ev.ProjectID == 0 {
		w.log.Error("dropping malformed trigger event", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	log := w.log.With("event_id", ev.EventID, "project_id", ev.ProjectID)
	delivered := uint64(1)
	var published time.Time
	if md, err := m.Metadata(); err == nil {
		delivered, published = md.NumDelivered, md.Timestamp
	}
	var res result
	err := store.InTx(ctx, w.pool, func(q *store.Queries) error {
		var err error
		res, err = w.c.process(ctx, q, &ev)
		return err
	})
	if errors.Is(err, errDownstreamRefMissing) {
		// A bridge's downstream ref may yet be pushed: wait for it, with
		// backoff, for as long as the bridge retries, counted from the
		// event's first publication; then decide for good.
		if published.IsZero() {
			published = ev.RequestedAt
		}
		if delay, ok := w.cfg.BridgeRetry.delay(delivered, published, time.Now()); ok {
			log.Info("downstream ref not found yet; will retry", "bridge_id", ev.BridgeID, "ref", ev.Ref,
				"delivered", delivered, "retry_in", delay.String())
			_ = m.NakWithDelay(delay)
			return
		}
		err = store.InTx(ctx, w.pool, func(q *store.Queries) error {
			var err error
			res, err = w.c.processBridge(ctx, q, &ev, true)
			return err
		})
	}
	if err != nil {
		delay := retryDelay(delivered)
		log.Warn("trigger event failed; will retry", "err", err, "transient", store.IsTransient(err),
			"delivered", delivered, "retry_in", delay.String())
		_ = m.NakWithDelay(delay)
		return
	}
	if w.cfg.CrashAfterCommit {
		log.Warn("crash-after-commit fault injection: exiting before ack")
		os.Exit(3)
	}
	res.outcome.EventID = ev.EventID
	w.reply(log, m, res.outcome)
	publish := res.touched
	if res.pipelineID != 0 && res.outcome.Status == 201 {
		publish = append([]int64{res.pipelineID}, publish...)
	}
	if len(publish) > 0 {
		if err := w.publish(ctx, publish...); err != nil {
			log.Warn("publish follow-ups failed; will retry", "err", err)
			_ = m.NakWithDelay(time.Second)
			return
		}
	}
	if err := m.Ack(); err != nil {
		log.Warn("ack", "err", err)
	}
	if res.pipelineID != 0 {
		log.Debug("pipeline created", "pipeline_id", res.pipelineID, "status", res.outcome.Status)
	}
}

// reply sends the outcome to the ingress waiting for it, if any.
func (w *Worker) reply(log *slog.Logger, m jetstream.Msg, o event.Outcome) {
	to := m.Headers().Get(event.HeaderReplyTo)
	if to == "" {
		return
	}
	data, err := json.Marshal(o)
	if err != nil {
		log.Error("encode outcome", "err", err)
		return
	}
	if err := w.nc.Publish(to, data); err != nil {
		// The ingress falls back to a 202 and its status URL.
		log.Warn("reply to ingress", "err", err)
	}
}

// publish puts the pending jobs of pipelines on JOBS and fans out their
// pending bridges. Message ids come from job and bridge ids, so a repeat
// after a redelivery publishes nothing new.
func (w *Worker) publish(ctx context.Context, pipelineIDs ...int64) error {
	return pipeline.PublishPending(ctx, w.pool, w.js, pipelineIDs...)
}
