// Command dispatcher turns trigger events from the TRIGGERS stream into
// pipelines. Run as many as you like: they share one durable consumer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triggerd/triggerd/dispatcher/scheduler"
	"github.com/triggerd/triggerd/dispatcher/worker"
	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/conf"
	"github.com/triggerd/triggerd/internal/cronspec"
	"github.com/triggerd/triggerd/internal/metrics"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/schema"
)

type config struct {
	DatabaseURL      string
	NATSURL          string
	MetricsAddr      string
	Concurrency      int
	Batches          int
	BatchSize        int
	BatchInterval    time.Duration
	SchedBatches     int
	SchedBatchSize   int
	MaxDeliver       int
	RateProject      int
	RateToken        int
	AckWait          time.Duration
	Replicas         int
	CrashAfterCommit bool
	ExternalURL      string
	StuckAfter       time.Duration
	LogLevel         string
	// Schedules.
	SchedulerEvery time.Duration
	CatchUp        string
	// Bridges (trigger: jobs).
	BridgeMaxDepth         int
	BridgeMaxHierarchySize int
	BridgeRetryInitial     time.Duration
	BridgeRetryMaxElapsed  time.Duration
}

func loadConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("dispatcher", flag.ContinueOnError)
	db := conf.String(fs, "database-url", "DATABASE_URL", conf.DefaultDatabaseURL, "Postgres URL")
	natsURL := conf.String(fs, "nats-url", "NATS_URL", "nats://"+conf.DefaultEmbeddedNATS, "NATS server URL (default: the dev stack's embedded server)")
	metricsAddr := conf.String(fs, "metrics-addr", "METRICS_ADDR", "", "listen address of /metrics, /-/health, /-/readiness and pprof (empty: none)")
	conc := conf.Int(fs, "concurrency", "DISPATCHER_CONCURRENCY", 16, "job events processed at once")
	batches := conf.Int(fs, "batches", "DISPATCHER_BATCHES", 2, "batches of trigger events decided at once (the second and later only while half a batch waits)")
	batchSize := conf.Int(fs, "batch-size", "DISPATCHER_BATCH_SIZE", 256, "trigger events decided in one transaction at most")
	batchInterval := conf.Duration(fs, "batch-interval", "DISPATCHER_BATCH_INTERVAL", 10*time.Millisecond,
		"while batches hold fewer than a quarter of DISPATCHER_BATCH_SIZE, the first loop starts one at most this often (0: at once)")
	schedBatches := conf.Int(fs, "schedule-batches", "DISPATCHER_SCHEDULE_BATCHES", 1, "batches of schedule slots decided at once")
	schedBatchSize := conf.Int(fs, "schedule-batch-size", "DISPATCHER_SCHEDULE_BATCH_SIZE", 64, "schedule slots decided in one transaction at most")
	rateProject := conf.Int(fs, "pipeline-rate-limit-project", "PIPELINE_RATE_LIMIT_PROJECT", 0,
		"pipelines one project may create per minute (0: no limit)")
	rateToken := conf.Int(fs, "pipeline-rate-limit-token", "PIPELINE_RATE_LIMIT_TOKEN", 0,
		"pipelines one trigger token may create per minute (0: no limit)")
	maxDeliver := conf.Int(fs, "max-deliver", "DISPATCHER_MAX_DELIVER", worker.DefaultMaxDeliver,
		"deliveries of a failing trigger event before it goes to the dead-letter stream")
	ackWait := conf.Duration(fs, "ack-wait", "DISPATCHER_ACK_WAIT", 30*time.Second, "how long an unacknowledged event waits before redelivery")
	replicas := conf.Int(fs, "stream-replicas", "STREAM_REPLICAS", 1, "JetStream stream replicas")
	crash := conf.Bool(fs, "crash-after-commit", "DISPATCHER_CRASH_AFTER_COMMIT", false, "fault injection for tests: exit after the first commit, before the ack")
	ext := conf.String(fs, "external-url", "EXTERNAL_URL", "http://127.0.0.1:8080", "URL jobs reach the API at (CI_SERVER_URL, CI_API_V4_URL)")
	stuck := conf.Duration(fs, "job-stuck-after", "JOB_STUCK_AFTER", 5*time.Minute, "a running job whose runner is silent this long is failed")
	every := conf.Duration(fs, "scheduler-interval", "SCHEDULER_INTERVAL", time.Second, "how often the scheduler leader looks for due schedules")
	catchUp := conf.String(fs, "schedule-catch-up", "SCHEDULE_CATCH_UP", "latest", "slots missed while no scheduler ran: latest (fire once) or none")
	level := conf.String(fs, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	maxDepth := conf.Int(fs, "bridge-max-depth", "BRIDGE_MAX_DEPTH", worker.DefaultMaxDepth,
		"how deep a chain of multi-project pipelines may go; a bridge going deeper fails")
	maxSize := conf.Int(fs, "bridge-max-hierarchy-size", "BRIDGE_MAX_HIERARCHY_SIZE", worker.DefaultMaxHierarchySize,
		"how many pipelines one hierarchy of multi-project pipelines may hold")
	retryInitial := conf.Duration(fs, "bridge-retry-initial", "BRIDGE_RETRY_INITIAL", worker.DefaultBridgeRetryInitial,
		"first delay before retrying a bridge whose downstream ref does not exist yet (doubles, with jitter)")
	retryMax := conf.Duration(fs, "bridge-retry-max-elapsed", "BRIDGE_RETRY_MAX_ELAPSED", worker.DefaultBridgeRetryMaxElapsed,
		"how long after its fan-out a bridge waits for its downstream ref before it fails")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	cfg := config{DatabaseURL: *db, NATSURL: *natsURL, MetricsAddr: *metricsAddr, Concurrency: *conc, Batches: *batches, BatchSize: *batchSize, BatchInterval: *batchInterval, SchedBatches: *schedBatches, SchedBatchSize: *schedBatchSize, MaxDeliver: *maxDeliver, RateProject: *rateProject, RateToken: *rateToken, AckWait: *ackWait, Replicas: *replicas,
		CrashAfterCommit: *crash, ExternalURL: strings.TrimSuffix(*ext, "/"), StuckAfter: *stuck, SchedulerEvery: *every, CatchUp: *catchUp, LogLevel: *level,
		BridgeMaxDepth: *maxDepth, BridgeMaxHierarchySize: *maxSize, BridgeRetryInitial: *retryInitial, BridgeRetryMaxElapsed: *retryMax}
	switch {
	case cfg.RateProject < 0 || cfg.RateToken < 0:
		return config{}, errors.New("PIPELINE_RATE_LIMIT_PROJECT and PIPELINE_RATE_LIMIT_TOKEN must not be negative")
	case cfg.MaxDeliver < 1:
		return config{}, fmt.Errorf("DISPATCHER_MAX_DELIVER must be at least 1, not %d", cfg.MaxDeliver)
	case cfg.BatchInterval < 0:
		return config{}, errors.New("DISPATCHER_BATCH_INTERVAL must not be negative")
	case cfg.Batches < 1 || cfg.BatchSize < 1:
		return config{}, fmt.Errorf("DISPATCHER_BATCHES and DISPATCHER_BATCH_SIZE must be at least 1, not %d and %d", cfg.Batches, cfg.BatchSize)
	case cfg.SchedBatches < 1 || cfg.SchedBatchSize < 1:
		return config{}, fmt.Errorf("DISPATCHER_SCHEDULE_BATCHES and DISPATCHER_SCHEDULE_BATCH_SIZE must be at least 1, not %d and %d", cfg.SchedBatches, cfg.SchedBatchSize)
	case cfg.CatchUp != "latest" && cfg.CatchUp != "none":
		return config{}, fmt.Errorf("SCHEDULE_CATCH_UP must be latest or none, not %q", cfg.CatchUp)
	case cfg.BridgeMaxDepth < 1:
		return config{}, fmt.Errorf("BRIDGE_MAX_DEPTH must be at least 1, not %d", cfg.BridgeMaxDepth)
	case cfg.BridgeMaxHierarchySize < 2:
		return config{}, fmt.Errorf("BRIDGE_MAX_HIERARCHY_SIZE must be at least 2, not %d", cfg.BridgeMaxHierarchySize)
	case cfg.BridgeRetryInitial <= 0:
		return config{}, fmt.Errorf("BRIDGE_RETRY_INITIAL must be positive, not %s", cfg.BridgeRetryInitial)
	case cfg.BridgeRetryMaxElapsed <= 0:
		return config{}, fmt.Errorf("BRIDGE_RETRY_MAX_ELAPSED must be positive, not %s", cfg.BridgeRetryMaxElapsed)
	}
	return cfg, nil
}

func main() {
	conf.TuneGC()
	cfg, err := loadConfig(os.Args[1:])
	if err != nil {
		conf.NewLogger("info", "dispatcher").Error("bad configuration", "err", err)
		os.Exit(2)
	}
	log := conf.NewLogger(cfg.LogLevel, "dispatcher")
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("dispatcher stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	log.Info("starting", "database_url", store.RedactURL(cfg.DatabaseURL), "nats_url", cfg.NATSURL, "metrics_addr", cfg.MetricsAddr,
		"concurrency", cfg.Concurrency, "batches", cfg.Batches, "batch_size", cfg.BatchSize, "batch_interval", cfg.BatchInterval.String(), "ack_wait", cfg.AckWait.String(), "job_stuck_after", cfg.StuckAfter.String(),
		"bridge_max_depth", cfg.BridgeMaxDepth, "bridge_max_hierarchy_size", cfg.BridgeMaxHierarchySize,
		"bridge_retry_initial", cfg.BridgeRetryInitial.String(), "bridge_retry_max_elapsed", cfg.BridgeRetryMaxElapsed.String())
	if err := store.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	pool, err := store.Connect(ctx, store.PoolConfig{URL: cfg.DatabaseURL, ApplicationName: "triggerd-dispatcher-" + strconv.Itoa(os.Getpid()),
		MaxConns: int32(cfg.Concurrency + cfg.Batches + cfg.SchedBatches + 4)})
	if err != nil {
		return err
	}
	defer pool.Close()
	// Batches take iids and touch triggers on connections of their own,
	// one statement at a time (worker.Config.HotRows). Those commits need
	// not wait for their own WAL flush, which would hold the project's
	// counter row meanwhile: a pipeline commits after its iid was taken, and
	// the flush of its commit carries the iid's with it. An iid taken but
	// lost in a crash belonged to a pipeline that was never committed.
	hot, err := store.Connect(ctx, store.PoolConfig{URL: cfg.DatabaseURL, ApplicationName: "triggerd-dispatcher-hot-" + strconv.Itoa(os.Getpid()),
		MaxConns: int32(cfg.Batches + cfg.SchedBatches + 1), AsyncCommit: true})
	if err != nil {
		return err
	}
	defer hot.Close()
	if err := schema.Migrate(ctx, pool); err != nil {
		return err
	}
	nc, err := broker.Connect(ctx, cfg.NATSURL, "triggerd-dispatcher", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := broker.EnsureStreams(ctx, js, broker.StreamConfig{Replicas: cfg.Replicas}); err != nil {
		return err
	}
	cons, err := broker.DispatcherConsumer(ctx, js, cfg.AckWait)
	if err != nil {
		return err
	}
	scheduled, err := broker.ScheduledConsumer(ctx, js, cfg.AckWait)
	if err != nil {
		return err
	}
	jobCons, err := broker.JobEventsConsumer(ctx, js, cfg.AckWait)
	if err != nil {
		return err
	}
	if err := prometheus.Register(metrics.NewConsumerCollector(time.Second, cons, scheduled, jobCons)); err != nil {
		return fmt.Errorf("register consumer metrics: %w", err)
	}
	stopMetrics, err := metrics.Serve(cfg.MetricsAddr, log, metrics.PostgresCheck(pool), metrics.NATSCheck(nc))
	if err != nil {
		return err
	}
	defer stopMetrics()
	w := worker.New(worker.Config{
		Concurrency: cfg.Batches, BatchSize: cfg.BatchSize, BatchInterval: cfg.BatchInterval, ScheduledConcurrency: cfg.SchedBatches, ScheduledBatchSize: cfg.SchedBatchSize, MaxDeliver: cfg.MaxDeliver, CrashAfterCommit: cfg.CrashAfterCommit,
		Limits:      worker.Limits{MaxDepth: cfg.BridgeMaxDepth, MaxHierarchySize: cfg.BridgeMaxHierarchySize},
		RateLimits:  worker.RateLimits{Project: cfg.RateProject, Token: cfg.RateToken},
		BridgeRetry: worker.BridgeRetry{Initial: cfg.BridgeRetryInitial, MaxElapsed: cfg.BridgeRetryMaxElapsed},
		HotRows:     hot, ExternalURL: cfg.ExternalURL,
	}, log, pool, nc, js, cons, scheduled)
	jobs := worker.NewJobs(log, pool, nc, js, jobCons, cfg.ExternalURL, cfg.Concurrency, cfg.StuckAfter)
	sched := scheduler.New(scheduler.Config{Interval: cfg.SchedulerEvery, CatchUp: cfg.CatchUp,
		Backlog: func(ctx context.Context) (int64, error) { return broker.Unfinished(ctx, scheduled) }}, log, pool, js, cronspec.Next)
	// Any part failing stops the others: the process exits and is
	// restarted rather than running part of a dispatcher.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := []func(context.Context) error{w.Run, jobs.Run, sched.Run}
	errc := make(chan error, len(parts))
	for _, run := range parts {
		go func() { errc <- run(ctx) }()
	}
	err = <-errc
	cancel()
	for range parts[1:] {
		if err2 := <-errc; err == nil {
			err = err2
		}
	}
	return err
}
