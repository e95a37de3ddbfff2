// Command runner-sim is the simulated runner fleet. In this version it joins
// the shared JOBS consumer and reports the jobs waiting for it; running them
// comes with the pipeline-processing work.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/conf"
)

type config struct {
	NATSURL  string
	Replicas int
	Interval time.Duration
	LogLevel string
}

func loadConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("runner-sim", flag.ContinueOnError)
	natsURL := conf.String(fs, "nats-url", "NATS_URL", "nats://"+conf.DefaultEmbeddedNATS, "NATS server URL (default: the dev stack's embedded server)")
	replicas := conf.Int(fs, "stream-replicas", "STREAM_REPLICAS", 1, "JetStream stream replicas")
	interval := conf.Duration(fs, "report-interval", "RUNNER_REPORT_INTERVAL", 30*time.Second, "how often to log the jobs waiting")
	level := conf.String(fs, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	return config{NATSURL: *natsURL, Replicas: *replicas, Interval: *interval, LogLevel: *level}, nil
}

func main() {
	cfg, err := loadConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "runner-sim:", err)
		os.Exit(2)
	}
	log := conf.NewLogger(cfg.LogLevel, "runner-sim")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("runner-sim stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	log.Info("starting", "nats_url", cfg.NATSURL)
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
	cons, err := broker.RunnerConsumer(ctx, js, 5*time.Minute)
	if err != nil {
		return err
	}
	log.Info("connected; waiting for jobs")
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			info, err := cons.Info(ctx)
			if err != nil {
				log.Warn("consumer info", "err", err)
				continue
			}
			log.Info("jobs waiting", "pending", info.NumPending)
		}
	}
}
