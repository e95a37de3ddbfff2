package shellsim

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type zipEntry struct {
	name, body string
	mode       os.FileMode
}

func makeZip(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		require.NoError(t, err)
		_, err = w.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestUnzip(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "artifacts.zip"), makeZip(t,
		zipEntry{name: "build/"},
		zipEntry{name: "build/app.bin", body: "binary"},
		zipEntry{name: "README", body: "readme"},
		zipEntry{name: "link", body: "/etc/passwd", mode: os.ModeSymlink | 0o777},
	), 0o644))
	trace, code := run(t, Options{Dir: dir},
		`unzip artifacts.zip`,
		`cat build/app.bin README; echo`,
		`echo changed > README; unzip -q artifacts.zip; cat README`,
		`unzip -qo artifacts.zip; cat README`,
		`unzip -q artifacts.zip -d out && ls out`,
		`unzip -l artifacts.zip | grep -c build`,
		`unzip -q artifacts.zip 'build/*' -d only && ls only`,
		`[ ! -e link ] && echo "no link"`,
	)
	require.Equal(t, 0, code, trace)
	require.Equal(t, "Archive:  artifacts.zip\n"+
		"   creating: build/\n"+
		"  inflating: build/app.bin\n"+
		"  inflating: README\n"+
		"unzip: skipping symbolic link link\n"+
		"binaryreadme\n"+
		"unzip: not overwriting existing file build/app.bin (use -o)\n"+
		"unzip: not overwriting existing file README (use -o)\n"+
		"unzip: skipping symbolic link link\n"+
		"changed\n"+
		"unzip: skipping symbolic link link\n"+
		"readme\n"+
		"unzip: skipping symbolic link link\n"+
		"README\nbuild\n"+
		"2\n"+
		"build\n"+
		"no link\n", output(trace))
}

func TestUnzipRejectsZipSlip(t *testing.T) {
	for _, name := range []string{"../evil.txt", "/abs/evil.txt", "a/../../evil.txt", `..\evil.txt`, "C:/evil.txt"} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "ws")
			require.NoError(t, os.Mkdir(dir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "a.zip"), makeZip(t,
				zipEntry{name: "good.txt", body: "good"},
				zipEntry{name: name, body: "evil"},
			), 0o644))
			trace, code := run(t, Options{Dir: dir}, `unzip a.zip`)
			require.Equal(t, 1, code, trace)
			require.Contains(t, trace, "zip-slip")
			// Nothing at all was extracted.
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1)
			entries, err = os.ReadDir(parent)
			require.NoError(t, err)
			require.Len(t, entries, 1)
		})
	}
}

func TestUnzipThroughSymlinkIsRefused(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ws")
	outside := filepath.Join(parent, "outside")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	require.NoError(t, os.Symlink("../outside", filepath.Join(dir, "link")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.zip"), makeZip(t, zipEntry{name: "link/evil.txt", body: "evil"}), 0o644))
	trace, code := run(t, Options{Dir: dir}, `unzip a.zip`)
	require.NotEqual(t, 0, code, trace)
	require.Contains(t, trace, "escapes the job's workspace")
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestUnzipBomb(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bomb.zip"), makeZip(t, zipEntry{name: "zeros", body: strings.Repeat("\x00", 1<<20)}), 0o644))
	trace, code := run(t, Options{Dir: dir, MaxWorkspaceBytes: 64 << 10}, `unzip bomb.zip`)
	require.NotEqual(t, 0, code, trace)
	require.Contains(t, trace, "workspace write limit exceeded")
}

func TestZipRoundTrip(t *testing.T) {
	trace, code := run(t, Options{},
		`mkdir -p dist/sub && echo one > dist/a.txt && echo two > dist/sub/b.txt`,
		`zip -qr out.zip dist`,
		`mkdir x && cd x && unzip -q ../out.zip && cat dist/a.txt dist/sub/b.txt`,
		`unzip nothing.zip`,
	)
	require.Equal(t, 9, code, trace)
	require.Contains(t, output(trace), "one\ntwo\nunzip: cannot find or open nothing.zip")
}
