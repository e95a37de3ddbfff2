// Command ceiling is the benchmarks' yardstick: the least an HTTP trigger
// endpoint can do and still never answer 2xx for what is not stored. It
// reads the request, publishes one small event to a JetStream stream stored
// like TRIGGERS (file storage, same duplicate window, a fresh message id),
// waits for the stream's acknowledgement and answers 201. No database, no
// token check, no dispatcher: whatever the real service reaches is measured
// against this, on the same machine, with the same load tool.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/conf"
)

const (
	stream  = "CEILING"
	subject = "ceiling.requested"
)

func main() {
	conf.TuneGC()
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "HTTP listen address")
	natsURL := fs.String("nats-url", "nats://"+conf.DefaultEmbeddedNATS, "NATS server URL")
	_ = fs.Parse(os.Args[1:])
	log := conf.NewLogger("info", "ceiling")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *natsURL, log); err != nil {
		log.Error("ceiling stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, natsURL string, log *slog.Logger) error {
	nc, err := broker.Connect(ctx, natsURL, "triggerd-ceiling", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// Stored like TRIGGERS; limits retention so that, with no consumer,
	// it never fills.
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{subject}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxMsgs: 1_000_000, Discard: jetstream.DiscardOld, Duplicates: broker.DefaultTriggersDuplicates,
	})
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer func() { _ = st.Purge(context.Background()) }()
	var seq atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		data, _ := json.Marshal(map[string]any{"path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body),
			"requested_at": time.Now().UTC()})
		if _, err := js.Publish(r.Context(), subject, data, jetstream.WithMsgID(uuid.NewString())); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":` + strconv.FormatInt(seq.Add(1), 10) + `,"status":"created"}` + "\n"))
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
