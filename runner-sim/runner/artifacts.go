package runner

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
)

// Job outcomes, as artifacts:when sees them.
const (
	outcomeSuccess  = "success"
	outcomeFailed   = "failed"
	outcomeCanceled = "canceled"
)

// artifactsUpload is what collecting a job's artifacts came to.
type artifactsUpload struct {
	// Object names the uploaded archive in the ARTIFACTS bucket; empty
	// when nothing was uploaded.
	Object string
	Size   int64
	// FailureReason, when set, fails the job: the archive was too large
	// (script_failure, as GitLab Runner's job fails when the coordinator
	// refuses an archive with 413), or could not be stored
	// (runner_system_failure).
	FailureReason string
}

// artifactsWanted reports whether artifacts:when asks for the job's
// artifacts after outcome. A canceled job uploads nothing, as in GitLab.
func artifactsWanted(when, outcome string) bool {
	switch outcome {
	case outcomeSuccess:
		return when == "" || when == "on_success" || when == "always"
	case outcomeFailed:
		return when == "on_failure" || when == "always"
	}
	return false
}

// uploadArtifacts zips what the job's artifacts:paths match in its
// workspace dir and puts the archive into the ARTIFACTS bucket, writing
// GitLab Runner's lines to the trace. A path that matches nothing is a
// warning, not a failure, as in GitLab.
func (r *Runner) uploadArtifacts(ctx context.Context, p event.JobPayload, dir, outcome string, env map[string]string, trace io.Writer, log *slog.Logger) artifactsUpload {
	return r.uploadArtifactsCapped(ctx, p, dir, outcome, env, trace, log, broker.MaxArtifactsSize)
}

// uploadArtifactsCapped is uploadArtifacts with archives capped at max
// bytes.
func (r *Runner) uploadArtifactsCapped(ctx context.Context, p event.JobPayload, dir, outcome string, env map[string]string, trace io.Writer, log *slog.Logger, max int64) artifactsUpload {
	a := p.Artifacts
	if a == nil || len(a.Paths) == 0 || !artifactsWanted(a.When, outcome) {
		return artifactsUpload{}
	}
	if outcome == outcomeSuccess {
		fmt.Fprintf(trace, "Uploading artifacts for successful job\n")
	} else {
		fmt.Fprintf(trace, "Uploading artifacts for failed job\n")
	}
	fmt.Fprintf(trace, "Uploading artifacts...\n")
	files, err := collectArtifacts(dir, a.Paths, env, trace)
	if err != nil {
		fmt.Fprintf(trace, "ERROR: Uploading artifacts: %v\n", err)
		return artifactsUpload{FailureReason: "runner_system_failure"}
	}
	if len(files) == 0 {
		fmt.Fprintf(trace, "ERROR: No files to upload\n")
		return artifactsUpload{}
	}

	// The archive is built next to the workspace, never inside it.
	zipPath := filepath.Join(r.cfg.WorkDir, "job-"+strconv.FormatInt(p.JobID, 10)+"-artifacts.zip")
	defer os.Remove(zipPath)
	size, err := writeArtifactsZip(dir, files, zipPath, max)
	id := strconv.FormatInt(p.JobID, 10)
	if errors.Is(err, errArtifactsTooLarge) {
		fmt.Fprintf(trace, "ERROR: Uploading artifacts as \"archive\" to coordinator... too large archive  id=%s responseStatus=413 Request Entity Too Large status=413\n", id)
		limit := fmt.Sprintf("%d bytes", max)
		if max%(1<<20) == 0 {
			limit = fmt.Sprintf("%d MiB", max>>20)
		}
		fmt.Fprintf(trace, "FATAL: too large: the archive is larger than %s\n", limit)
		return artifactsUpload{FailureReason: "script_failure"}
	}
	if err != nil {
		fmt.Fprintf(trace, "ERROR: Uploading artifacts: %v\n", err)
		return artifactsUpload{FailureReason: "runner_system_failure"}
	}

	var name string
	put := func() error {
		f, err := os.Open(zipPath)
		if err != nil {
			return backoff.Permanent(err)
		}
		defer f.Close()
		putCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		name, _, err = broker.PutArtifacts(putCtx, r.js, p.JobID, f)
		return err
	}
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(time.Second), backoff.WithMaxElapsedTime(0))
	err = backoff.RetryNotify(put, backoff.WithContext(backoff.WithMaxRetries(bo, 3), ctx), func(err error, d time.Duration) {
		fmt.Fprintf(trace, "WARNING: Uploading artifacts as \"archive\" to coordinator... failed  id=%s; retrying in %s\n", id, d.Round(time.Second))
		log.Warn("upload artifacts; will retry", "err", err)
	})
	if err != nil {
		log.Error("upload artifacts", "err", err)
		fmt.Fprintf(trace, "ERROR: Uploading artifacts as \"archive\" to coordinator... error  id=%s\n", id)
		fmt.Fprintf(trace, "FATAL: the artifacts could not be stored\n")
		return artifactsUpload{FailureReason: "runner_system_failure"}
	}
	fmt.Fprintf(trace, "Uploading artifacts as \"archive\" to coordinator... 201 Created  id=%s responseStatus=201 Created\n", id)
	return artifactsUpload{Object: name, Size: size}
}

// artifactFile is one entry of the archive: a workspace-relative,
// slash-separated path of a regular file or a directory.
type artifactFile struct {
	rel  string
	dir  bool
	mode fs.FileMode
	mod  time.Time
}

// collectArtifacts resolves artifacts:paths in the workspace dir: plain
// paths (a directory brings everything under it) and globs with *, ?,
// [...] and ** (any number of directories). Variables in the paths are
// expanded first, as GitLab Runner does. Nothing outside dir is ever
// read: paths that leave it are refused, symbolic links are neither
// followed nor archived, and every access goes through an os.Root. It
// writes one line per path to trace and returns the entries in order, each
// once.
func collectArtifacts(dir string, patterns []string, env map[string]string, trace io.Writer) ([]artifactFile, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fsys := root.FS()
	projectDir := env["CI_PROJECT_DIR"]
	if projectDir == "" {
		projectDir = dir
	}

	seen := map[string]bool{}
	var out []artifactFile
	// add records rel (and, for a directory, everything under it) and
	// returns how many entries that matched.
	add := func(rel string) (int, error) {
		n := 0
		err := fs.WalkDir(fsys, rel, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && !d.Type().IsRegular() {
				return nil // symbolic links, devices, sockets
			}
			n++
			if seen[p] {
				if d.IsDir() && p != rel {
					return fs.SkipDir // already added with its contents
				}
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			seen[p] = true
			if p != "." {
				out = append(out, artifactFile{rel: p, dir: d.IsDir(), mode: info.Mode(), mod: info.ModTime()})
			}
			return nil
		})
		return n, err
	}

	for _, raw := range patterns {
		pat := os.Expand(strings.TrimSpace(raw), func(k string) string { return env[k] })
		if pat == "" {
			continue
		}
		rel, ok := workspacePath(pat, projectDir, dir)
		if !ok {
			fmt.Fprintf(trace, "WARNING: %s: not supported: outside build directory\n", raw)
			continue
		}
		var matches []string
		if !hasGlob(rel) {
			if info, err := root.Lstat(rel); err == nil && (info.IsDir() || info.Mode().IsRegular()) {
				matches = []string{rel}
			}
		} else {
			matches, err = globWorkspace(fsys, rel)
			if err != nil {
				return nil, err
			}
		}
		n := 0
		for _, m := range matches {
			k, err := add(m)
			if err != nil {
				return nil, err
			}
			n += k
		}
		if n == 0 {
			fmt.Fprintf(trace, "WARNING: %s: no matching files. Ensure that the artifact path is relative to the working directory (%s)\n", raw, projectDir)
			continue
		}
		fmt.Fprintf(trace, "%s: found %d matching artifact files and directories\n", raw, n)
	}
	return out, nil
}

// workspacePath turns an artifacts path into a clean slash-separated path
// relative to the workspace, or reports that it leaves it. Absolute paths
// are accepted under the job's CI_PROJECT_DIR or the workspace itself.
func workspacePath(p, projectDir, dir string) (string, bool) {
	p = filepath.ToSlash(p)
	if strings.ContainsRune(p, 0) {
		return "", false
	}
	if path.IsAbs(p) {
		clean := path.Clean(p)
		found := false
		for _, base := range []string{projectDir, filepath.ToSlash(dir)} {
			base = strings.TrimSuffix(path.Clean(base), "/")
			if clean == base {
				p, found = ".", true
				break
			}
			if rest, ok := strings.CutPrefix(clean, base+"/"); ok {
				p, found = rest, true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return clean, true
}

// hasGlob reports whether an artifacts path is a pattern.
func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// globWorkspace returns the workspace paths matching pattern, walking only
// below its longest literal leading directory.
func globWorkspace(fsys fs.FS, pattern string) ([]string, error) {
	segs := strings.Split(pattern, "/")
	for _, s := range segs {
		if _, err := path.Match(s, ""); err != nil {
			return nil, fmt.Errorf("artifacts path %q: %w", pattern, err)
		}
	}
	i := 0
	for i < len(segs) && !hasGlob(segs[i]) {
		i++
	}
	base := path.Join(segs[:i]...)
	if base == "" {
		base = "."
	}
	if info, err := fs.Stat(fsys, base); err != nil || !info.IsDir() {
		return nil, nil
	}
	var out []string
	err := fs.WalkDir(fsys, base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == base || (!d.IsDir() && !d.Type().IsRegular()) {
			return nil
		}
		// base is the first i segments of p (none when base is ".").
		if matchSegments(segs[i:], strings.Split(p, "/")[i:]) {
			out = append(out, p)
			if d.IsDir() {
				return fs.SkipDir // added whole
			}
		}
		return nil
	})
	return out, err
}

// matchSegments matches path segments against pattern segments, "**"
// standing for any number of segments (none included).
func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 1 && pat[1] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 1 {
				return true
			}
			for k := 0; k <= len(name); k++ {
				if matchSegments(pat[1:], name[k:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		// "a**b" within one name is a plain star pattern, as in GitLab
		// Runner's doublestar matcher.
		if ok, _ := path.Match(strings.ReplaceAll(pat[0], "**", "*"), name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

var errArtifactsTooLarge = errors.New("artifacts archive too large")

// writeArtifactsZip writes files of the workspace dir into a zip archive at
// zipPath and returns its size; beyond max bytes it stops with
// errArtifactsTooLarge.
func writeArtifactsZip(dir string, files []artifactFile, zipPath string, max int64) (int64, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	f, err := os.Create(zipPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cw := &cappedWriter{w: f, max: max}
	zw := zip.NewWriter(cw)
	for _, af := range files {
		h := &zip.FileHeader{Name: af.rel, Method: zip.Deflate, Modified: af.mod}
		h.SetMode(af.mode)
		if af.dir {
			h.Name += "/"
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return 0, err
		}
		if af.dir {
			continue
		}
		src, err := root.Open(af.rel)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(w, src)
		src.Close()
		if err != nil {
			return 0, err
		}
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return cw.n, f.Close()
}

// cappedWriter fails once more than max bytes went through it.
type cappedWriter struct {
	w   io.Writer
	n   int64
	max int64
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.max {
		return 0, errArtifactsTooLarge
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
