// Package conf reads a binary's configuration: every setting is a flag whose
// default comes from an environment variable, so `-flag` beats `ENV` beats
// the built-in default.
package conf

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
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
			fmt.Fprintf(os.Stderr, "ignoring %s=%q: %v\n", env, v, err)
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
			fmt.Fprintf(os.Stderr, "ignoring %s=%q: %v\n", env, v, err)
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
			fmt.Fprintf(os.Stderr, "ignoring %s=%q: %v\n", env, v, err)
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

// NewLogger is the JSON slog logger every binary uses, tagged with its
// component name; an unknown level means info.
func NewLogger(level, component string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})).With("component", component)
}
