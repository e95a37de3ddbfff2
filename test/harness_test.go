// Package test holds the end-to-end tests: they build the three real
// binaries once, start them against a fresh Postgres database and an embedded
// NATS server per test, and talk to the ingress over HTTP exactly as GitLab's
// documented curl commands and stock GitLab clients do. The process harness
// itself is package test/harness, shared with the chaos suite.
package test

import (
	"os"
	"testing"

	"github.com/triggerd/triggerd/test/harness"
)

// TestMain checks that Postgres is reachable (failing, never skipping, with
// the command that starts it) and builds ingress, dispatcher and runner-sim
// once for every test.
func TestMain(m *testing.M) {
	os.Exit(harness.Main(m))
}

// stack is the harness's stack, with the helpers only these tests use as
// methods of their own.
type stack struct{ *harness.Stack }

// startStack starts the service for t and stops it when t ends.
func startStack(t *testing.T, opts stackOpts) *stack {
	t.Helper()
	return &stack{harness.Start(t, opts)}
}

// The harness's names, as these tests spell them.
type (
	stackOpts    = harness.Opts
	call         = harness.Call
	reply        = harness.Reply
	user         = harness.User
	project      = harness.Project
	userJSON     = harness.UserJSON
	pipelineJSON = harness.PipelineJSON
	jobJSON      = harness.JobJSON
	variableJSON = harness.VariableJSON
	triggerJSON  = harness.TriggerJSON
)

const docsCI = harness.DocsCI

var (
	eventually    = harness.Eventually
	freePort      = harness.FreePort
	jobStages     = harness.JobStages
	docsJobStages = harness.DocsJobStages
)

// decode requires the status and decodes the JSON body into a T.
func decode[T any](t testing.TB, r reply, status int) T {
	t.Helper()
	return harness.Decode[T](t, r, status)
}
