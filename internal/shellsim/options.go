package shellsim

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// Defaults for the zero values of [Options].
const (
	// DefaultMaxOutput is the trace size at which output is dropped. It
	// matches the order of magnitude of GitLab's default job log limit per
	// script section, so that a chatty script cannot fill the trace store.
	DefaultMaxOutput int64 = 4 << 20
	// DefaultMaxWorkspaceBytes bounds how many bytes one run may write into
	// the workspace (redirections, downloads, extraction, copies), so that a
	// loop or a zip bomb cannot fill the disk of the runner host.
	DefaultMaxWorkspaceBytes int64 = 256 << 20
	// DefaultMaxResponseBytes bounds one HTTP response body read by curl.
	DefaultMaxResponseBytes int64 = 64 << 20
	// DefaultHTTPTimeout is the timeout of the client used when
	// Options.HTTPClient is nil.
	DefaultHTTPTimeout = 30 * time.Second
)

// Options configure one [Run]. The zero value of every field except Dir is
// usable.
type Options struct {
	// Dir is the job's workspace directory. It must exist. Every path the
	// script names is resolved inside it (through an [os.Root], so "..",
	// absolute paths and symbolic links cannot leave it); absolute paths
	// are accepted only when they point inside Dir.
	Dir string
	// Env is the job's variables, exported to the script's environment.
	Env map[string]string
	// Stdout receives the trace: everything the script prints (stdout and
	// stderr, as in GitLab's job log) plus a "$ <line>" echo per line. Nil
	// discards it.
	Stdout io.Writer
	// HTTPClient is used by curl and wget. Nil means a client of its own
	// with a DefaultHTTPTimeout timeout, whose idle connections are closed
	// when Run returns. Callers that must keep scripts away from internal
	// addresses pass a client whose transport enforces that.
	HTTPClient *http.Client
	// SimulatedDuration is how long a simulated command (anything that is
	// not a builtin) takes; the wait honours the context.
	SimulatedDuration time.Duration
	// FailureRate is the probability that a simulated command fails with
	// exit status 1. It lets tests exercise failure paths; 0 means never.
	FailureRate float64
	// Rand is the source for FailureRate. Nil means a randomly seeded
	// generator private to the run.
	Rand *rand.Rand
	// MaxOutput caps the bytes written to Stdout (default
	// DefaultMaxOutput). Beyond it output is dropped and a single
	// "[output truncated]" line is written.
	MaxOutput int64
	// MaxWorkspaceBytes caps the bytes the script may write into Dir
	// (default DefaultMaxWorkspaceBytes); writes beyond it fail with
	// "workspace write limit exceeded".
	MaxWorkspaceBytes int64
	// MaxResponseBytes caps one HTTP response body (default
	// DefaultMaxResponseBytes); curl fails with its exit status 63 beyond it.
	MaxResponseBytes int64
}

// withDefaults validates o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("shellsim: Options.Dir is required")
	}
	if o.FailureRate < 0 || o.FailureRate > 1 {
		return o, errors.New("shellsim: Options.FailureRate must be between 0 and 1")
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = DefaultMaxOutput
	}
	if o.MaxWorkspaceBytes <= 0 {
		o.MaxWorkspaceBytes = DefaultMaxWorkspaceBytes
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return o, nil
}
