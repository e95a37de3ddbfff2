package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
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
	// Concurrency is how many batches of events are processed at once.
	Concurrency int
	// BatchSize is how many events one transaction decides at most.
	BatchSize int
	// BatchInterval paces the first batch loop while its batches are
	// small (broker.WorkOptions.Interval): zero decides each batch as soon
	// as the last is done.
	BatchInterval time.Duration
	// ScheduledConcurrency and ScheduledBatchSize are Concurrency and
	// BatchSize for schedule slots (0: the same): a cron burst may be given
	// less of the machine than ordinary triggers.
	ScheduledConcurrency, ScheduledBatchSize int
	// ShutdownGrace bounds how long in-flight events may take to finish
	// after the context is cancelled.
	ShutdownGrace time.Duration
	// CrashAfterCommit makes the process exit right after committing the
	// first pipeline, before publishing, replying or acking. It is a fault
	// injection switch for the crash-recovery tests and nothing else.
	CrashAfterCommit bool
	// MaxDeliver is how often an event is tried before it is given up and
	// kept in the dead-letter stream with its last error.
	MaxDeliver int
	// Limits bound hierarchies of multi-project pipelines.
	Limits Limits
	// RateLimits bound pipelines created per minute.
	RateLimits RateLimits
	// HotRows, when set, is a pool of its own on which a batch takes its
	// projects' iids and touches its triggers, outside its transaction
	// (store.Queries.HotRowsOn), so that batches of the same projects do
	// not wait for each other's commits.
	HotRows store.DB
	// BridgeRetry is how long and how often a bridge's downstream pipeline
	// is retried while its ref does not exist.
	BridgeRetry BridgeRetry
	// ExternalURL is where the API is reached: the links of the pipelines
	// in the answers to the ingress are under it.
	ExternalURL string
}

// Worker consumes trigger events and creates pipelines. Any number of
// workers, in any number of processes, may share the durable consumer.
type Worker struct {
	cfg       Config
	log       *slog.Logger
	pool      *pgxpool.Pool
	nc        *nats.Conn
	js        jetstream.JetStream
	cons      jetstream.Consumer
	scheduled jetstream.Consumer
	c         *creator
}

// New makes a worker over the trigger event consumers: the dispatcher's
// and, when not nil, the scheduler's, each consumed by a loop of its own.
func New(cfg Config, log *slog.Logger, pool *pgxpool.Pool, nc *nats.Conn, js jetstream.JetStream, cons, scheduled jetstream.Consumer) *Worker {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 4
	}
	if cfg.BatchSize < 1 {
		cfg.BatchSize = 256
	}
	if cfg.MaxDeliver < 1 {
		cfg.MaxDeliver = DefaultMaxDeliver
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
	if cfg.ScheduledConcurrency < 1 {
		cfg.ScheduledConcurrency = cfg.Concurrency
	}
	if cfg.ScheduledBatchSize < 1 {
		cfg.ScheduledBatchSize = cfg.BatchSize
	}
	return &Worker{cfg: cfg, log: log, pool: pool, nc: nc, js: js, cons: cons, scheduled: scheduled,
		c: newCreator(4096, cfg.Limits, cfg.RateLimits)}
}

// Run consumes every consumer until ctx is cancelled, then stops pulling,
// lets in-flight events finish within the grace period, and returns. A
// consumer failing stops the others.
func (w *Worker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loops := []broker.WorkOptions{{Name: "trigger events", Concurrency: w.cfg.Concurrency, MaxBatch: w.cfg.BatchSize, Interval: w.cfg.BatchInterval}}
	consumers := []jetstream.Consumer{w.cons}
	if w.scheduled != nil {
		loops = append(loops, broker.WorkOptions{Name: "schedule slots", Concurrency: w.cfg.ScheduledConcurrency, MaxBatch: w.cfg.ScheduledBatchSize})
		consumers = append(consumers, w.scheduled)
	}
	errc := make(chan error, len(loops))
	for i, opts := range loops {
		opts.DrainWait, opts.Grace, opts.Log = w.cfg.ShutdownGrace, w.cfg.ShutdownGrace, w.log
		go func() { errc <- broker.WorkBatches(ctx, consumers[i], opts, w.handleBatch) }()
	}
	var err error
	for range loops {
		if e := <-errc; err == nil && e != nil {
			err = e
			cancel()
		}
	}
	return err
}

// DefaultMaxDeliver gives an event about ten minutes of retries (see
// retryDelay) before it is dead-lettered: a database restart is ridden out.
const DefaultMaxDeliver = 25

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

// delivery is one trigger event being handled.
type delivery struct {
	msg       jetstream.Msg
	ev        event.TriggerRequested
	log       *slog.Logger
	delivered uint64
	published time.Time
}

func (w *Worker) decode(m jetstream.Msg) (*delivery, bool) {
	d := &delivery{msg: m, delivered: 1}
	err := json.Unmarshal(m.Data(), &d.ev)
	if err == nil && (d.ev.EventID == "" || d.ev.ProjectID == 0) {
		err = errors.New("event_id and project_id are required")
	}
	if err != nil {
		w.log.Error("malformed trigger event; dead-lettering it", "subject", m.Subject(), "err", err)
		if w.kill(context.Background(), m, d.ev.ProjectID, fmt.Errorf("malformed trigger event: %w", err)) {
			deadMalformed.Inc()
		}
		return nil, false
	}
	d.log = w.log.With("event_id", d.ev.EventID, "project_id", d.ev.ProjectID)
	if md, err := m.Metadata(); err == nil {
		d.delivered, d.published = md.NumDelivered, md.Timestamp
	}
	if d.delivered > 1 {
		redeliveries.Inc()
	}
	if d.published.IsZero() {
		d.published = d.ev.RequestedAt
	}
	return d, true
}

// handleBatch decides a batch of events. Events of bridges are handled one
// by one (each locks its upstream pipeline); all others are decided in one
// transaction. Should that fail, each is tried alone, so that one event that
// cannot be decided does not hold back the others. The ingresses waiting
// for the events are answered at once; publishing the jobs and acking are
// returned as the batch's follow-up (see broker.WorkBatches).
func (w *Worker) handleBatch(ctx context.Context, msgs []jetstream.Msg) func() {
	batchSize.Observe(float64(len(msgs)))
	start := time.Now()
	defer func() { decideDuration.Observe(time.Since(start).Seconds()) }()
	var batch []*delivery
	var followUps []func()
	for _, m := range msgs {
		d, ok := w.decode(m)
		switch {
		case !ok:
		case d.ev.BridgeID != 0:
			followUps = append(followUps, w.handle(ctx, d))
		default:
			batch = append(batch, d)
		}
	}
	switch len(batch) {
	case 0:
	case 1:
		followUps = append(followUps, w.handle(ctx, batch[0]))
	default:
		followUps = append(followUps, w.decideBatch(ctx, batch))
	}
	return inOrder(followUps)
}

// decideBatch decides events in one transaction, or, should that fail,
// each alone.
func (w *Worker) decideBatch(ctx context.Context, batch []*delivery) func() {
	evs := make([]*event.TriggerRequested, len(batch))
	for i, d := range batch {
		evs[i] = &d.ev
	}
	var reads *batchReads
	var results []result
	err := store.InTxAfter(ctx, w.pool, func(b *store.Batch) { reads = w.c.queueReads(b, evs) }, func(q *store.Queries) error {
		var err error
		results, err = w.c.processRead(ctx, w.hot(q), evs, reads)
		return err
	})
	if err == nil {
		return w.finish(ctx, batch, results)
	}
	w.log.Info("batch failed; deciding its events one by one", "events", len(batch), "err", err)
	followUps := make([]func(), 0, len(batch))
	for _, d := range batch {
		followUps = append(followUps, w.handle(ctx, d))
	}
	return inOrder(followUps)
}

// inOrder is one follow-up running fs, but for the nil ones, in order; nil
// when there is nothing to follow up.
func inOrder(fs []func()) func() {
	fs = slices.DeleteFunc(fs, func(f func()) bool { return f == nil })
	if len(fs) == 0 {
		return nil
	}
	return func() {
		for _, f := range fs {
			f()
		}
	}
}

// inTx runs fn in a transaction (see hot).
func (w *Worker) inTx(ctx context.Context, fn func(q *store.Queries) error) error {
	return store.InTx(ctx, w.pool, func(q *store.Queries) error { return fn(w.hot(q)) })
}

// hot is q with its iids and trigger touches taken outside its
// transaction, with Config.HotRows.
func (w *Worker) hot(q *store.Queries) *store.Queries {
	if w.cfg.HotRows != nil {
		return q.HotRowsOn(w.cfg.HotRows)
	}
	return q
}

// handle decides one event in its own transaction and returns its
// follow-up, if it was decided.
func (w *Worker) handle(ctx context.Context, d *delivery) func() {
	var res result
	err := w.inTx(ctx, func(q *store.Queries) error {
		var err error
		res, err = w.c.process(ctx, q, &d.ev)
		return err
	})
	if errors.Is(err, errDownstreamRefMissing) {
		// A bridge's downstream ref may yet be pushed: wait for it, with
		// backoff, for as long as the bridge retries, counted from the
		// event's first publication; then decide for good.
		if delay, ok := w.cfg.BridgeRetry.delay(d.delivered, d.published, time.Now()); ok {
			d.log.Info("downstream ref not found yet; will retry", "bridge_id", d.ev.BridgeID, "ref", d.ev.Ref,
				"delivered", d.delivered, "retry_in", delay.String())
			retryBridgeRef.Inc()
			_ = d.msg.NakWithDelay(delay)
			return nil
		}
		err = w.inTx(ctx, func(q *store.Queries) error {
			var err error
			res, err = w.c.processBridge(ctx, q, &d.ev, true)
			return err
		})
	}
	if err != nil && d.delivered >= uint64(w.cfg.MaxDeliver) {
		d.log.Error("trigger event failed too often; dead-lettering it", "err", err, "delivered", d.delivered)
		if w.kill(ctx, d.msg, d.ev.ProjectID, err) {
			deadExhausted.Inc()
		}
		return nil
	}
	if err != nil {
		delay := retryDelay(d.delivered)
		d.log.Warn("trigger event failed; will retry", "err", err, "transient", store.IsTransient(err),
			"delivered", d.delivered, "retry_in", delay.String())
		retryError.Inc()
		_ = d.msg.NakWithDelay(delay)
		return nil
	}
	return w.finish(ctx, []*delivery{d}, []result{res})
}

// finish answers the ingresses waiting for decided events, after their
// commit, and returns the rest of their follow-up: publish the jobs and
// bridges the new pipelines released, then ack the events. A failed
// publication naks them all; their redelivery finds the decisions and
// publishes again.
func (w *Worker) finish(ctx context.Context, ds []*delivery, results []result) func() {
	if w.cfg.CrashAfterCommit {
		w.log.Warn("crash-after-commit fault injection: exiting before ack")
		os.Exit(3)
	}
	for i, d := range ds {
		results[i].outcome.EventID = d.ev.EventID
		w.reply(d.log, d.msg, results[i].outcome)
	}
	return func() {
		start := time.Now()
		defer func() { followUpDuration.Observe(time.Since(start).Seconds()) }()
		var jobs []store.JobRef
		var touched []int64
		for _, res := range results {
			jobs = append(jobs, res.jobs...)
			touched = append(touched, res.touched...)
		}
		err := pipeline.PublishJobs(ctx, w.js, jobs)
		if err == nil && len(touched) > 0 {
			err = pipeline.PublishPending(ctx, w.pool, w.js, touched...)
		}
		if err != nil {
			w.log.Warn("publish follow-ups failed; will retry", "events", len(ds), "err", err)
			retryPublish.Add(float64(len(ds)))
			for _, d := range ds {
				_ = d.msg.NakWithDelay(time.Second)
			}
			return
		}
		for i, d := range ds {
			countDecided(d.ev.Source, results[i])
			if err := d.msg.Ack(); err != nil {
				d.log.Warn("ack", "err", err)
			}
		}
	}
}

// kill moves an event to the dead-letter stream and reports whether it
// did; should that fail, the event comes back later and is killed then.
func (w *Worker) kill(ctx context.Context, m jetstream.Msg, projectID int64, why error) bool {
	if err := broker.KillTrigger(ctx, w.js, m, projectID, why); err != nil {
		w.log.Warn("dead-letter trigger event", "err", err)
		_ = m.NakWithDelay(30 * time.Second)
		return false
	}
	return true
}

// reply sends the outcome to the ingress waiting for it, if any, with its
// pipeline rendered as the API shows it: bare if the ingress asked so
// (event.HeaderReplyBare), else as JSON.
func (w *Worker) reply(log *slog.Logger, m jetstream.Msg, o event.Outcome) {
	to := m.Headers().Get(event.HeaderReplyTo)
	if to == "" {
		return
	}
	var msg *nats.Msg
	var err error
	if m.Headers().Get(event.HeaderReplyBare) != "" {
		msg, err = o.Message(to, w.cfg.ExternalURL)
	} else if o, err = o.Rendered(w.cfg.ExternalURL); err == nil {
		msg = nats.NewMsg(to)
		msg.Data, err = event.EncodeJSON(o)
	}
	if err != nil {
		log.Error("encode outcome", "err", err)
		return
	}
	if err := w.nc.PublishMsg(msg); err != nil {
		// The ingress falls back to a 202 and its status URL.
		log.Warn("reply to ingress", "err", err)
	}
}
