// Command ingress serves the GitLab-compatible REST API: it takes pipeline
// triggers, validates them against caches, publishes them to JetStream and
// answers with the dispatcher's outcome.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/ingress/api"
	"github.com/triggerd/triggerd/ingress/relay"
	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/conf"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/metrics"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/schema"
)

type config struct {
	DatabaseURL  string
	NATSURL      string
	EmbeddedNATS string
	NATSStoreDir string
	Addr         string
	MetricsAddr  string
	ExternalURL  string
	AdminToken   string
	SecretKey    string
	TriggerWait  time.Duration
	CacheSize    int
	CacheTTL     time.Duration
	Replicas     int
	SeedDemo     bool
	LogLevel     string

	// Variables bound one trigger request's variables; MaxQueueDepth is
	// the dispatchers' backlog past which triggers are answered 429.
	Variables     api.VariableLimits
	MaxQueueDepth int
}

func loadConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("ingress", flag.ContinueOnError)
	db := conf.String(fs, "database-url", "DATABASE_URL", conf.DefaultDatabaseURL, "Postgres URL")
	natsURL := conf.String(fs, "nats-url", "NATS_URL", "", "NATS server URL; empty starts an embedded server")
	embed := conf.String(fs, "embedded-nats-addr", "NATS_EMBEDDED_ADDR", conf.DefaultEmbeddedNATS, "listen address of the embedded NATS server")
	storeDir := conf.String(fs, "nats-store-dir", "NATS_STORE_DIR", filepath.Join(os.TempDir(), "triggerd-nats"), "JetStream directory of the embedded NATS server")
	addr := conf.String(fs, "addr", "INGRESS_ADDR", "127.0.0.1:8080", "HTTP listen address")
	metricsAddr := conf.String(fs, "metrics-addr", "METRICS_ADDR", "", "listen address of /metrics, /-/health, /-/readiness and pprof (empty: none)")
	ext := conf.String(fs, "external-url", "EXTERNAL_URL", "", "URL users reach the service at (default http://INGRESS_ADDR)")
	admin := conf.String(fs, "admin-token", "TRIGGERS_ADMIN_TOKEN", "", "bootstrap admin personal access token")
	key := conf.String(fs, "secret-key", "TRIGGERS_SECRET_KEY", "", "key that encrypts stored trigger tokens (required)")
	wait := conf.Duration(fs, "trigger-wait", "TRIGGER_WAIT", 10*time.Second, "how long a trigger waits for its pipeline before answering 202")
	maxVars := conf.Int(fs, "trigger-max-variables", "TRIGGER_MAX_VARIABLES", 200, "most variables one trigger request may carry (0: no limit)")
	maxValue := conf.Int(fs, "trigger-max-variable-value", "TRIGGER_MAX_VARIABLE_VALUE", 10000, "largest trigger variable value in bytes (0: no limit)")
	depth := conf.Int(fs, "max-queue-depth", "INGRESS_MAX_QUEUE_DEPTH", 100000, "trigger events waiting for a dispatcher past which triggers are answered 429 (0: no limit)")
	size := conf.Int(fs, "cache-size", "CACHE_SIZE", 100000, "entries per hot-path cache")
	ttl := conf.Duration(fs, "cache-ttl", "CACHE_TTL", time.Minute, "hot-path cache entry lifetime")
	replicas := conf.Int(fs, "stream-replicas", "STREAM_REPLICAS", 1, "JetStream stream replicas")
	seed := conf.Bool(fs, "seed-demo", "TRIGGERS_SEED_DEMO", false, "create a demo user, project and trigger token, and print a curl")
	level := conf.String(fs, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	c := config{
		DatabaseURL: *db, NATSURL: *natsURL, EmbeddedNATS: *embed, NATSStoreDir: *storeDir, Addr: *addr, MetricsAddr: *metricsAddr,
		ExternalURL: *ext, AdminToken: *admin, SecretKey: *key, TriggerWait: *wait, CacheSize: *size,
		CacheTTL: *ttl, Replicas: *replicas, SeedDemo: *seed, LogLevel: *level,
		Variables:     api.VariableLimits{MaxVariables: *maxVars, MaxValueBytes: *maxValue},
		MaxQueueDepth: *depth,
	}
	if c.Variables.MaxVariables < 0 || c.Variables.MaxValueBytes < 0 || c.MaxQueueDepth < 0 {
		return config{}, errors.New("TRIGGER_MAX_VARIABLES, TRIGGER_MAX_VARIABLE_VALUE and INGRESS_MAX_QUEUE_DEPTH are counts: 0 or more")
	}
	if c.SecretKey == "" {
		return config{}, errors.New("TRIGGERS_SECRET_KEY is required: it encrypts stored trigger tokens")
	}
	if c.ExternalURL == "" {
		c.ExternalURL = "http://" + c.Addr
	}
	return c, nil
}

func main() {
	conf.TuneGC()
	cfg, err := loadConfig(os.Args[1:])
	if err != nil {
		conf.NewLogger("info", "ingress").Error("bad configuration", "err", err)
		os.Exit(2)
	}
	log := conf.NewLogger(cfg.LogLevel, "ingress")
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("ingress stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	log.Info("starting", "addr", cfg.Addr, "metrics_addr", cfg.MetricsAddr, "external_url", cfg.ExternalURL, "database_url", store.RedactURL(cfg.DatabaseURL),
		"nats_url", cfg.NATSURL, "admin_token", conf.Mask(cfg.AdminToken), "secret_key", conf.Mask(cfg.SecretKey),
		"trigger_wait", cfg.TriggerWait.String(), "trigger_max_variables", cfg.Variables.MaxVariables,
		"trigger_max_variable_value", cfg.Variables.MaxValueBytes, "max_queue_depth", cfg.MaxQueueDepth)

	if err := store.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	pool, err := store.Connect(ctx, store.PoolConfig{URL: cfg.DatabaseURL, ApplicationName: "triggerd-ingress", MaxConns: 32})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := schema.Migrate(ctx, pool); err != nil {
		return err
	}
	q := store.New(pool)
	if cfg.AdminToken != "" {
		if _, err := q.EnsureAdmin(ctx, secret.Digest(cfg.AdminToken)); err != nil {
			return fmt.Errorf("bootstrap admin: %w", err)
		}
	}
	sealer, err := secret.NewSealer(cfg.SecretKey)
	if err != nil {
		return err
	}

	natsURL := cfg.NATSURL
	if natsURL == "" {
		emb, err := broker.StartEmbedded(cfg.EmbeddedNATS, cfg.NATSStoreDir)
		if err != nil {
			return err
		}
		defer emb.Shutdown()
		natsURL = emb.URL()
		log.Info("embedded NATS with JetStream started", "url", natsURL, "store_dir", cfg.NATSStoreDir)
	}
	nc, err := broker.Connect(ctx, natsURL, "triggerd-ingress", log)
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
	stopMetrics, err := metrics.Serve(cfg.MetricsAddr, log, metrics.PostgresCheck(pool), metrics.NATSCheck(nc))
	if err != nil {
		return err
	}
	defer stopMetrics()

	caches := api.NewCaches(cfg.CacheSize, cfg.CacheTTL)
	rl, err := relay.New(nc, js, log, caches.Invalidate)
	if err != nil {
		return err
	}
	defer rl.Close()
	deps := api.Deps{Log: log, Pool: pool, Sealer: sealer, Publisher: rl, Caches: caches, JetStream: js}
	if cfg.MaxQueueDepth > 0 {
		// One loop reads the dispatchers' backlog for every request.
		backlog := broker.NewBacklog(js, event.TriggersStream, event.DispatcherConsumer, 500*time.Millisecond, log)
		backlogCtx, stopBacklog := context.WithCancel(ctx)
		backlogDone := make(chan struct{})
		go func() { backlog.Run(backlogCtx); close(backlogDone) }()
		defer func() { stopBacklog(); <-backlogDone }()
		deps.Backlog = backlog
	}
	srv := api.New(api.Config{ExternalURL: cfg.ExternalURL, TriggerWait: cfg.TriggerWait,
		VariableLimits: cfg.Variables, MaxQueueDepth: int64(cfg.MaxQueueDepth)}, deps)

	if cfg.SeedDemo {
		if err := seedDemo(ctx, srv, cfg.AdminToken, cfg.ExternalURL, os.Stdout); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}

	hs := &http.Server{
		Addr:              cfg.Addr,
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.TriggerWait + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Info("listening", "addr", cfg.Addr)
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.TriggerWait+5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
