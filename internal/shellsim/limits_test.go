package shellsim

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCancelDuringSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	code, err := Run(ctx, []string{`echo start`, `sleep 30`, `echo never`}, Options{Dir: t.TempDir()})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, -1, code)
	require.Less(t, time.Since(start), 2*time.Second)
}

func TestDeadlineStopsLoops(t *testing.T) {
	for _, line := range []string{
		`while true; do :; done`,
		`while :; do X=$(echo a); done`,
		`until false; do true | true; done`,
		`make forever`,
	} {
		t.Run(line, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			code, err := Run(ctx, []string{line}, Options{Dir: t.TempDir(), SimulatedDuration: time.Hour})
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, -1, code)
			require.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

func TestMaxOutput(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	code, err := Run(t.Context(), []string{
		`for i in 1 2 3 4 5 6 7 8 9 10; do echo 0123456789012345678901234567890123456789; done`,
		`echo more`,
		`touch after`,
	}, Options{Dir: dir, Stdout: &buf, MaxOutput: 100})
	require.NoError(t, err)
	require.Equal(t, 0, code)
	trace := buf.String()
	require.Equal(t, 1, strings.Count(trace, "[output truncated]"))
	require.LessOrEqual(t, len(trace), 100+len("\n"+truncatedLine))
	require.True(t, strings.HasSuffix(trace, "\n"+truncatedLine))
	_, err = os.Stat(filepath.Join(dir, "after"))
	require.NoError(t, err, "the script goes on after its output is truncated")
}

func TestFailureRate(t *testing.T) {
	outcomes := func(seed uint64) []int {
		rng := rand.New(rand.NewPCG(seed, seed))
		var codes []int
		for range 20 {
			_, code := run(t, Options{FailureRate: 0.5, Rand: rng}, `make test`, `echo ok`)
			codes = append(codes, code)
		}
		return codes
	}
	a, b := outcomes(1), outcomes(1)
	require.Equal(t, a, b, "a fixed Rand makes failures reproducible")
	require.Contains(t, a, 0)
	require.Contains(t, a, 1)

	trace, code := run(t, Options{FailureRate: 1}, `make upload`, `echo never`)
	require.Equal(t, 1, code)
	require.Equal(t, "$ make upload\n[simulated] make upload\n[simulated] make upload: exit status 1\n", trace)

	_, code = run(t, Options{FailureRate: 1}, `make upload || echo handled`)
	require.Equal(t, 0, code)

	for range 20 {
		_, code := run(t, Options{}, `make test`)
		require.Equal(t, 0, code)
	}
}

func TestSimulatedDuration(t *testing.T) {
	start := time.Now()
	_, code := run(t, Options{SimulatedDuration: 50 * time.Millisecond}, `make a`, `make b`)
	require.Equal(t, 0, code)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
}

func TestExpansionLimits(t *testing.T) {
	trace, code := run(t, Options{}, `X=0123456789abcdef; while :; do X=$X$X; done`)
	require.Equal(t, 1, code)
	require.Contains(t, trace, "argument list too long")

	trace, code = run(t, Options{}, `printf '%999999999d' 1`)
	require.Equal(t, 1, code)
	require.Contains(t, trace, "too large")

	trace, code = run(t, Options{MaxOutput: 1 << 10}, `F='%60000d'; F=$F$F$F$F$F$F$F$F; F=$F$F$F$F$F$F$F$F; printf "$F" > /dev/null`)
	require.Equal(t, 1, code)
	require.Contains(t, trace, "printf: output too large")
}

func TestInvalidOptions(t *testing.T) {
	_, err := Run(t.Context(), []string{`true`}, Options{})
	require.Error(t, err)
	_, err = Run(t.Context(), []string{`true`}, Options{Dir: filepath.Join(t.TempDir(), "missing")})
	require.Error(t, err)
	_, err = Run(t.Context(), []string{`true`}, Options{Dir: t.TempDir(), FailureRate: 2})
	require.Error(t, err)
}

func TestEmptyScript(t *testing.T) {
	trace, code := run(t, Options{}, `# only a comment`, ``)
	require.Equal(t, 0, code)
	require.Equal(t, "$ # only a comment\n$ \n", trace)
}
