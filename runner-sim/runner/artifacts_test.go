package runner

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

func TestMain(m *testing.M) {
	// An object store upload publishes through a JetStream publisher of its
	// own and cleans it up after; nats.go v1.55 starts the publisher's
	// reconnect watcher in a goroutine that reads its status channel only
	// once it runs, and if the cleanup has cleared the channel by then, the
	// watcher waits on a nil channel forever. That is a race inside nats.go
	// (jetstream/publish.go), seen once in CI, not a leak of this package.
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}

// workspace makes a job workspace holding files (path -> content), plus
// symbolic links that lead out of it, and a file outside it.
func workspace(t *testing.T, files map[string]string) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "job-1")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(base, "secret"), []byte("secret"), 0o600))
	require.NoError(t, os.Symlink("../secret", filepath.Join(dir, "escape")))
	require.NoError(t, os.Symlink(base, filepath.Join(dir, "outdir")))
	return dir
}

func rels(files []artifactFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.rel)
	}
	return out
}

func TestCollectArtifacts(t *testing.T) {
	dir := workspace(t, map[string]string{
		"out.txt": "hello", "dist/a.txt": "a", "dist/sub/b.txt": "b",
		"logs/x.log": "x", "logs/deep/er/y.log": "y", "logs/z.txt": "z", "top.log": "t",
	})
	env := map[string]string{"CI_PROJECT_DIR": "/builds/g/p", "OUT": "out"}
	for _, tc := range []struct {
		name  string
		paths []string
		want  []string
		trace []string
	}{
		{"file", []string{"out.txt"}, []string{"out.txt"},
			[]string{"out.txt: found 1 matching artifact files and directories"}},
		{"directory, recursively", []string{"dist/"}, []string{"dist", "dist/a.txt", "dist/sub", "dist/sub/b.txt"},
			[]string{"dist/: found 4 matching artifact files and directories"}},
		{"doublestar", []string{"logs/**/*.log"}, []string{"logs/deep/er/y.log", "logs/x.log"},
			[]string{"logs/**/*.log: found 2 matching artifact files and directories"}},
		{"doublestar from the top", []string{"**/*.log"}, []string{"logs/deep/er/y.log", "logs/x.log", "top.log"}, nil},
		{"star is one level", []string{"*/*.txt"}, []string{"dist/a.txt", "logs/z.txt"}, nil},
		{"a star matching a directory brings it whole", []string{"di*"}, []string{"dist", "dist/a.txt", "dist/sub", "dist/sub/b.txt"}, nil},
		{"variables and the project dir", []string{"$CI_PROJECT_DIR/${OUT}.txt"}, []string{"out.txt"}, nil},
		{"each entry once", []string{"dist/sub", "dist", "dist/**"}, []string{"dist/sub", "dist/sub/b.txt", "dist", "dist/a.txt"}, nil},
		{"no match", []string{"missing.txt", "nothing/*"}, nil, []string{
			"WARNING: missing.txt: no matching files. Ensure that the artifact path is relative to the working directory (/builds/g/p)",
			"WARNING: nothing/*: no matching files."}},
		{"outside: parent", []string{"../secret", "dist/../../secret"}, nil, []string{
			"WARNING: ../secret: not supported: outside build directory",
			"WARNING: dist/../../secret: not supported: outside build directory"}},
		{"outside: absolute", []string{"/etc/passwd", filepath.Dir(dir) + "/secret"}, nil, []string{
			"WARNING: /etc/passwd: not supported: outside build directory"}},
		{"outside: symbolic links are not followed", []string{"escape", "outdir/secret", "outdir", "*"}, []string{
			"dist", "dist/a.txt", "dist/sub", "dist/sub/b.txt", "logs", "logs/deep", "logs/deep/er", "logs/deep/er/y.log",
			"logs/x.log", "logs/z.txt", "out.txt", "top.log"}, nil},
		{"the whole workspace", []string{"."}, []string{
			"dist", "dist/a.txt", "dist/sub", "dist/sub/b.txt", "logs", "logs/deep", "logs/deep/er", "logs/deep/er/y.log",
			"logs/x.log", "logs/z.txt", "out.txt", "top.log"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var trace strings.Builder
			files, err := collectArtifacts(dir, tc.paths, env, &trace)
			require.NoError(t, err)
			require.Equal(t, tc.want, rels(files), "trace:\n%s", trace.String())
			for _, line := range tc.trace {
				require.Contains(t, trace.String(), line)
			}
			require.NotContains(t, trace.String(), "secret\n")
		})
	}
}

func TestMatchSegments(t *testing.T) {
	for _, tc := range []struct {
		pat, name string
		want      bool
	}{
		{"**", "a/b/c", true},
		{"**/*.go", "main.go", true},
		{"**/*.go", "a/b/main.go", true},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"a/*", "a/b/c", false},
		{"a/**", "a", true},
		{"a**b", "axxb", true},
		{"a/[bc]?", "a/cd", true},
	} {
		require.Equal(t, tc.want, matchSegments(strings.Split(tc.pat, "/"), strings.Split(tc.name, "/")), "%s ~ %s", tc.pat, tc.name)
	}
}

func TestArtifactsWanted(t *testing.T) {
	for _, tc := range []struct {
		when, outcome string
		want          bool
	}{
		{"", outcomeSuccess, true}, {"on_success", outcomeSuccess, true}, {"on_success", outcomeFailed, false},
		{"on_failure", outcomeSuccess, false}, {"on_failure", outcomeFailed, true},
		{"always", outcomeSuccess, true}, {"always", outcomeFailed, true}, {"always", outcomeCanceled, false},
	} {
		require.Equal(t, tc.want, artifactsWanted(tc.when, tc.outcome), "%s after %s", tc.when, tc.outcome)
	}
}

// TestUploadArtifacts runs the upload against an embedded NATS server: the
// archive lands in the ARTIFACTS bucket under the job's name, and one over
// the cap fails the job without uploading.
func TestUploadArtifacts(t *testing.T) {
	srv := testenv.NATS(t)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{}))

	noise := make([]byte, 64<<10)
	_, _ = rand.Read(noise)
	dir := workspace(t, map[string]string{"out.txt": "hello\n", "big.bin": string(noise)})
	r := New(Config{Name: "test", WorkDir: filepath.Dir(dir)}, slog.New(slog.NewTextHandler(io.Discard, nil)), nc, js, nil)
	env := map[string]string{"CI_PROJECT_DIR": "/builds/g/p"}
	job := func(id int64, paths ...string) event.JobPayload {
		return event.JobPayload{JobID: id, Artifacts: &store.ArtifactsSpec{Paths: paths}}
	}

	var trace strings.Builder
	up := r.uploadArtifactsCapped(ctx, job(7, "out.txt"), dir, outcomeSuccess, env, &trace, r.log, 1<<20)
	require.Empty(t, up.FailureReason, trace.String())
	require.Equal(t, "job-7.zip", up.Object)
	require.Equal(t, "Uploading artifacts for successful job\nUploading artifacts...\n"+
		"out.txt: found 1 matching artifact files and directories\n"+
		"Uploading artifacts as \"archive\" to coordinator... 201 Created  id=7 responseStatus=201 Created\n", trace.String())
	b, err := broker.GetArtifacts(ctx, js, up.Object)
	require.NoError(t, err)
	require.Equal(t, int64(len(b)), up.Size)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Len(t, zr.File, 1)
	f, err := zr.File[0].Open()
	require.NoError(t, err)
	content, _ := io.ReadAll(f)
	f.Close()
	require.Equal(t, "hello\n", string(content))
	require.Equal(t, "out.txt", zr.File[0].Name)
	require.WithinDuration(t, time.Now(), zr.File[0].Modified, time.Hour)
	require.NoError(t, broker.DeleteArtifacts(ctx, js, up.Object))
	require.NoError(t, broker.DeleteArtifacts(ctx, js, up.Object), "deleting twice is fine")

	// Over the cap: the job fails, nothing is uploaded, no file is left.
	trace.Reset()
	up = r.uploadArtifactsCapped(ctx, job(8, "big.bin"), dir, outcomeSuccess, env, &trace, r.log, 32<<10)
	require.Equal(t, artifactsUpload{FailureReason: "script_failure"}, up)
	require.Contains(t, trace.String(), `ERROR: Uploading artifacts as "archive" to coordinator... too large archive  id=8 responseStatus=413 Request Entity Too Large status=413`)
	require.Contains(t, trace.String(), "FATAL: too large")
	_, err = broker.GetArtifacts(ctx, js, broker.ArtifactsObjectName(8))
	require.ErrorIs(t, err, jetstream.ErrObjectNotFound)
	left, err := filepath.Glob(filepath.Join(filepath.Dir(dir), "*.zip"))
	require.NoError(t, err)
	require.Empty(t, left)

	// Nothing matched: a warning, no failure, no upload.
	trace.Reset()
	up = r.uploadArtifactsCapped(ctx, job(9, "nope"), dir, outcomeSuccess, env, &trace, r.log, 1<<20)
	require.Equal(t, artifactsUpload{}, up)
	require.Contains(t, trace.String(), "ERROR: No files to upload\n")

	// when: on_success (the default) after a failure: nothing at all.
	trace.Reset()
	up = r.uploadArtifactsCapped(ctx, job(10, "out.txt"), dir, outcomeFailed, env, &trace, r.log, 1<<20)
	require.Equal(t, artifactsUpload{}, up)
	require.Empty(t, trace.String())

	// The bucket's settings hold for a NATS 2.9 server (no compression;
	// the metadata is the server's own); its TTL cleans up what
	// dispatchers never took.
	obs, err := js.ObjectStore(ctx, broker.ArtifactsBucket)
	require.NoError(t, err)
	st, err := obs.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, broker.ArtifactsTTL, st.TTL())
	require.False(t, st.IsCompressed())
}
