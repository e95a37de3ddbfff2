package shellsim

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedirections(t *testing.T) {
	dir := t.TempDir()
	trace, code := run(t, Options{Dir: dir},
		`echo hi > out.txt`,
		`echo a >> log; echo b >>log`,
		`ls missing 2>/dev/null || echo missing`,
		`echo hidden >/dev/null`,
		`{ cat missing 2>&1 || true; } | grep -q "No such file" && echo found`,
		`{ echo to-file; echo to-err >&2; } > both 2>&1`,
		`echo err 2>err.txt >&2`,
		`wc -l < log`,
		`> empty`,
		`make build > build.log`,
		`echo all &> amp.txt`,
	)
	require.Equal(t, 0, code, trace)
	require.Equal(t, "missing\nfound\n2\n", output(trace))
	for name, want := range map[string]string{
		"out.txt":   "hi\n",
		"log":       "a\nb\n",
		"both":      "to-file\nto-err\n",
		"err.txt":   "err\n",
		"empty":     "",
		"build.log": "[simulated] make build\n",
		"amp.txt":   "all\n",
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, name)
		require.Equal(t, want, string(b), name)
	}
}

func TestFileBuiltins(t *testing.T) {
	dir := t.TempDir()
	trace, code := run(t, Options{Dir: dir, Env: map[string]string{"CI_PROJECT_DIR": dir}},
		`mkdir -p a/b/c && touch a/b/c/f && [ -f a/b/c/f ] && echo created`,
		`cp -r a copy && ls copy/b/c`,
		`echo data > x && cp x y && mv y z && cat z`,
		`rm x z && ls`,
		`cd a/b && pwd && cd - >/dev/null && pwd`,
		`mkdir d && cd d`,
		`pwd; echo inside > "$CI_PROJECT_DIR/abs.txt"; cd "$CI_PROJECT_DIR"; cat abs.txt`,
		`rm -rf a copy d && rm -f never-existed && ls`,
		`printf 'x\ny\n' > t && chmod +x t && [ -x t ] && tee t2 < t | wc -l && cat t2`,
	)
	require.Equal(t, 0, code, trace)
	require.Equal(t, "created\nf\ndata\na\ncopy\n"+
		filepath.Join(dir, "a/b")+"\n"+dir+"\n"+
		filepath.Join(dir, "d")+"\ninside\n"+
		"abs.txt\n2\nx\ny\n", output(trace))
}

func TestGlob(t *testing.T) {
	dir := t.TempDir()
	trace, code := run(t, Options{Dir: dir},
		`mkdir sub && touch a.txt b.txt c.log .hidden sub/d.txt`,
		`echo *.txt`,
		`echo "*.txt" '*.txt' \*.txt`,
		`echo *.none`,
		`echo */ sub/*`,
		`echo ?.log [ab].txt`,
		`for f in *.txt; do echo "file $f"; done`,
		`rm *.txt && ls`,
		`set -f; echo *.log`,
	)
	require.Equal(t, 0, code, trace)
	require.Equal(t, "a.txt b.txt\n*.txt *.txt *.txt\n*.none\nsub/ sub/d.txt\nc.log a.txt b.txt\nfile a.txt\nfile b.txt\nc.log\nsub\n*.log\n", output(trace))
}

// TestWorkspaceConfinement checks that no path leads out of Dir: "..",
// absolute paths elsewhere and symbolic links are refused with a message
// and a non-zero status, and nothing is written outside.
func TestWorkspaceConfinement(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ws")
	outside := filepath.Join(parent, "outside")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("TOPSECRET\n"), 0o644))
	require.NoError(t, os.Symlink("../outside", filepath.Join(dir, "link")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "abslink")))
	require.NoError(t, os.Symlink("../outside/secret", filepath.Join(dir, "filelink")))

	tests := []struct {
		line, msg string
	}{
		{`echo x > ../escape.txt`, "../escape.txt: path is outside the job's workspace"},
		{`echo x >> ` + filepath.Join(parent, "escape.txt"), "path is outside the job's workspace"},
		{`echo x > /tmp/shellsim-escape.txt`, "path is outside the job's workspace"},
		{`cat /etc/passwd`, "cat: /etc/passwd: path is outside the job's workspace"},
		{`cat < ../outside/secret`, "path is outside the job's workspace"},
		{`cat ../outside/secret`, "path is outside the job's workspace"},
		{`cd ..`, "cd: ..: path is outside the job's workspace"},
		{`cd /`, "path is outside the job's workspace"},
		{`mkdir -p ../../x`, "path is outside the job's workspace"},
		{`touch a/../../escape.txt`, "path is outside the job's workspace"},
		{`cp /etc/passwd .`, "path is outside the job's workspace"},
		{`cp filelink copy`, "escapes the job's workspace"},
		{`mv link/secret here`, "escapes the job's workspace"},
		{`echo x > link/escape.txt`, "escapes the job's workspace"},
		{`cat link/secret`, "escapes the job's workspace"},
		{`cat abslink/secret`, "escapes the job's workspace"},
		{`cat filelink`, "escapes the job's workspace"},
		{`ls link/`, "escapes the job's workspace"},
		{`rm -rf ..`, "path is outside the job's workspace"},
		{`rm -rf .`, "refusing to remove"},
		{`[ -f ../outside/secret ]`, "path is outside the job's workspace"},
		{`unzip ../outside/a.zip`, "path is outside the job's workspace"},
		{`touch link/new`, "escapes the job's workspace"},
		{`mkdir link/new`, "escapes the job's workspace"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			trace, code := run(t, Options{Dir: dir}, tt.line, `echo never`)
			require.NotEqual(t, 0, code, trace)
			require.Contains(t, trace, tt.msg)
			require.NotContains(t, trace, "TOPSECRET")
			require.NotContains(t, trace, "never\n")
		})
	}
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	_, err = os.Stat(filepath.Join(parent, "escape.txt"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat("/tmp/shellsim-escape.txt")
	require.ErrorIs(t, err, os.ErrNotExist)
	// Removing a link removes the link, not what it points to.
	_, code := run(t, Options{Dir: dir}, `rm -rf link abslink`)
	require.Equal(t, 0, code)
	_, err = os.Stat(filepath.Join(outside, "secret"))
	require.NoError(t, err)
}

func TestWorkspaceWriteLimit(t *testing.T) {
	trace, code := run(t, Options{MaxWorkspaceBytes: 1000}, `while true; do echo 0123456789 >> big; done`)
	require.Equal(t, 1, code)
	require.Contains(t, trace, "workspace write limit exceeded")
}
