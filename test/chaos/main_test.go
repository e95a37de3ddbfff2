// Package chaos runs the service under load while its processes and the
// servers it depends on fail, and checks what a user of the trigger API is
// promised: every trigger that was answered 2xx has exactly one pipeline, no
// idempotency key has two, no job runs to completion twice, every
// multi-project fan-out happens exactly once, and the service recovers on its
// own.
//
// The short cases (short_test.go) run with `make test`. The long ones
// (long_test.go, build tag chaos) run with `make chaos`, which also writes
// docs/RELIABILITY.md from their figures.
package chaos

import (
	"os"
	"testing"

	"github.com/triggerd/triggerd/test/harness"
)

// TestMain fails, never skips, when Postgres is not reachable, and builds
// the binaries once.
func TestMain(m *testing.M) {
	os.Exit(harness.Main(m))
}
