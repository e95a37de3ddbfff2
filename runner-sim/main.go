// Command runner-sim is the simulated runner fleet: it takes pending jobs
// from JetStream, runs their scripts in a shell simulator with the job's
// variables, and reports logs and results. Run as many as you like: they
// share one durable consumer.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/conf"
	"github.com/triggerd/triggerd/internal/metrics"
	"github.com/triggerd/triggerd/runner-sim/runner"
)

type config struct {
	NATSURL         string
	MetricsAddr     string
	Replicas        int
	Name            string
	Concurrency     int
	WorkDir         string
	CommandDuration time.Duration
	FailureRate     float64
	AckWait         time.Duration
	LogLevel        string
}

func loadConfig(args []string) (config, error) {
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("runner-sim", flag.ContinueOnError)
	natsURL := conf.String(fs, "nats-url", "NATS_URL", "nats://"+conf.DefaultEmbeddedNATS, "NATS server URL (default: the dev stack's embedded server)")
	metricsAddr := conf.String(fs, "metrics-addr", "METRICS_ADDR", "", "listen address of /metrics, /-/health, /-/readiness and pprof (empty: none)")
	replicas := conf.Int(fs, "stream-replicas", "STREAM_REPLICAS", 1, "JetStream stream replicas")
	name := conf.String(fs, "name", "RUNNER_NAME", host+"-"+strconv.Itoa(os.Getpid()), "runner name shown on jobs")
	conc := conf.Int(fs, "concurrency", "RUNNER_CONCURRENCY", 4, "jobs run at once")
	dir := conf.String(fs, "work-dir", "RUNNER_WORKDIR", filepath.Join(os.TempDir(), "triggerd-runner"), "where job workspaces live")
	dur := conf.Duration(fs, "command-duration", "RUNNER_COMMAND_DURATION", 100*time.Millisecond, "how long a simulated command takes")
	rate := conf.String(fs, "failure-rate", "RUNNER_FAILURE_RATE", "0", "probability that a simulated command fails (0..1)")
	ackWait := conf.Duration(fs, "ack-wait", "RUNNER_ACK_WAIT", runner.DefaultAckWait,
		"how long a job message stays with a runner that stopped answering (a live one renews it every third of this)")
	level := conf.String(fs, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if *ackWait < 3*time.Second {
		return config{}, fmt.Errorf("RUNNER_ACK_WAIT must be at least 3s, got %s", *ackWait)
	}
	fr, err := strconv.ParseFloat(*rate, 64)
	if err != nil || fr < 0 || fr > 1 {
		return config{}, fmt.Errorf("RUNNER_FAILURE_RATE must be a number from 0 to 1, got %q", *rate)
	}
	return config{NATSURL: *natsURL, MetricsAddr: *metricsAddr, Replicas: *replicas, Name: *name, Concurrency: *conc, WorkDir: *dir,
		CommandDuration: *dur, FailureRate: fr, AckWait: *ackWait, LogLevel: *level}, nil
}

func main() {
	conf.TuneGC()
	cfg, err := loadConfig(os.Args[1:])
	if err != nil {
		conf.NewLogger("info", "runner-sim").Error("bad configuration", "err", err)
		os.Exit(2)
	}
	log := conf.NewLogger(cfg.LogLevel, "runner-sim")
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("runner-sim stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	log.Info("starting", "nats_url", cfg.NATSURL, "metrics_addr", cfg.MetricsAddr, "name", cfg.Name, "concurrency", cfg.Concurrency, "ack_wait", cfg.AckWait.String())
	nc, err := broker.Connect(ctx, cfg.NATSURL, "triggerd-runner-sim", log)
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
	cons, err := broker.RunnerConsumer(ctx, js, cfg.AckWait)
	if err != nil {
		return err
	}
	if err := prometheus.Register(metrics.NewConsumerCollector(time.Second, cons)); err != nil {
		return fmt.Errorf("register consumer metrics: %w", err)
	}
	stopMetrics, err := metrics.Serve(cfg.MetricsAddr, log, metrics.NATSCheck(nc))
	if err != nil {
		return err
	}
	defer stopMetrics()
	r := runner.New(runner.Config{Name: cfg.Name, Concurrency: cfg.Concurrency, WorkDir: cfg.WorkDir,
		CommandDuration: cfg.CommandDuration, FailureRate: cfg.FailureRate, AckWait: cfg.AckWait}, log, nc, js, cons)
	return r.Run(ctx)
}
