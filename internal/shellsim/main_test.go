package shellsim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// run runs lines with opts (Dir defaults to a fresh temporary directory)
// and returns the whole trace and the exit code.
func run(t *testing.T, opts Options, lines ...string) (string, int) {
	t.Helper()
	var buf bytes.Buffer
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Stdout = &buf
	code, err := Run(t.Context(), lines, opts)
	require.NoError(t, err)
	return buf.String(), code
}

// output drops the runner's "$ " echo lines from a trace.
func output(trace string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(trace, "\n") {
		if !strings.HasPrefix(line, "$ ") {
			b.WriteString(line)
		}
	}
	return b.String()
}
