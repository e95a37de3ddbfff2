package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the operations endpoints: /metrics from the default
// registry, /-/health, /-/readiness over checks, and pprof.
func Handler(checks ...Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /-/health", Health)
	mux.Handle("GET /-/readiness", Readiness(checks...))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Serve starts a listener on addr, as Listen, and returns the function that
// stops it (within five seconds) for the caller to defer. An empty addr
// serves nothing and returns a stop that does nothing: METRICS_ADDR unset.
func Serve(addr string, log *slog.Logger, checks ...Check) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	l, err := Listen(addr, log, checks...)
	if err != nil {
		return nil, err
	}
	log.Info("metrics listening", "addr", l.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Shutdown(ctx); err != nil {
			log.Warn("metrics listener shutdown", "err", err)
		}
	}, nil
}

// Listener is a running operations listener.
type Listener struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Listen binds addr (so that a taken port fails the start, not a scrape
// later) and serves Handler(checks...) on it until Shutdown. log reports a
// listener that fails while serving; the process goes on without it.
func Listen(addr string, log *slog.Logger, checks ...Check) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	l := &Listener{
		ln:   ln,
		done: make(chan struct{}),
		srv: &http.Server{
			Handler:           Handler(checks...),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			// A CPU profile or trace takes ?seconds=N (30 by default):
			// the write timeout leaves room for it.
			WriteTimeout: 2 * time.Minute,
			IdleTimeout:  2 * time.Minute,
			ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	go func() {
		defer close(l.done)
		if err := l.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "addr", addr, "err", err)
		}
	}()
	return l, nil
}

// Addr is the address the listener is bound to (the real port when addr
// asked for port 0).
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Shutdown stops taking connections and waits, until ctx ends, for the
// requests in flight (a profile being taken is cut short when ctx ends).
func (l *Listener) Shutdown(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, l.srv.Close())
	}
	<-l.done
	return err
}
