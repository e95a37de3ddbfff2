// Package conf reads a binary's configuration: every setting is a flag whose
// default comes from an environment variable, so `-flag` beats `ENV` beats
// the built-in default.
package conf

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"time"
)

// String declares a string setting.
func String(fs *flag.FlagSet, name, env, def, usage string) *string {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	return fs.String(name, def, usage+" (env "+env+")")
}

// Duration declares a duration setting ("10s", "500ms").
func Duration(fs *flag.FlagSet, name, env string, def time.Duration, usage string) *time.Duration {
	if v, ok := os.LookupEnv(env); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		} else {
			ignoring(env, v, err)
		}
	}
	return fs.Duration(name, def, usage+" (env "+env+")")
}

// Int declares an integer setting.
func Int(fs *flag.FlagSet, name, env string, def int, usage string) *int {
	if v, ok := os.LookupEnv(env); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		} else {
			ignoring(env, v, err)
		}
	}
	return fs.Int(name, def, usage+" (env "+env+")")
}

// Bool declares a boolean setting.
func Bool(fs *flag.FlagSet, name, env string, def bool, usage string) *bool {
	if v, ok := os.LookupEnv(env); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		} else {
			ignoring(env, v, err)
		}
	}
	return fs.Bool(name, def, usage+" (env "+env+")")
}

// Mask shows that a secret is set without showing it, for the start-up log.
func Mask(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return "(set)"
}

// Defaults shared by the binaries.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/triggerd?sslmode=disable"
	// DefaultEmbeddedNATS is where the ingress's embedded NATS listens when
	// NATS_URL is unset, and where the other binaries then find it.
	DefaultEmbeddedNATS = "127.0.0.1:4223"
)

// ignoring warns of a setting that does not parse, before the binary's
// logger exists: a JSON line like every other. Settings that parse as
// numbers, durations and booleans are not secrets, so the value is shown.
func ignoring(env, value string, err error) {
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Warn("ignoring invalid setting", "env", env, "value", value, "err", err)
}

// NewLogger is the JSON slog logger every binary uses, tagged with its
// component name; an unknown level means info. Records logged with a
// context carrying a request id (WithRequestID) carry it as request_id.
// A binary's main also makes it slog's default, so that the log package's
// output (net/http's server errors among it) is JSON lines too.
func NewLogger(level, component string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(requestIDHandler{slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})}).With("component", component)
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id that every record
// logged with it (log.InfoContext(ctx, …)) shows.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDHandler adds the context's request id to each record.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// DefaultGCPercent is the garbage collector's target when GOGC is not set.
// The binaries keep small live heaps (tens of MiB) and allocate per request
// and per event, so Go's default of collecting at twice the live heap spends
// much CPU on collections: at 400 the development machine created about 10%
// more pipelines per second, for a few more MiB of memory per process.
const DefaultGCPercent = 400

// TuneGC applies DefaultGCPercent unless GOGC says otherwise (GOMEMLIMIT,
// when set, still bounds the heap).
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(DefaultGCPercent)
	}
}
