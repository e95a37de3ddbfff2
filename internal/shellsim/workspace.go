package shellsim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// maxEntries bounds how many files and directories one run may create, so
// that a loop cannot exhaust the inodes of the runner host.
const maxEntries = 100_000

var (
	errOutside       = errors.New("path is outside the job's workspace")
	errWorkspaceFull = errors.New("workspace write limit exceeded")
	errTooManyFiles  = errors.New("too many files created in the workspace")
)

// workspace confines file access to the job's directory. Paths are first
// resolved lexically against the shell's working directory (so that
// "../x" and absolute paths elsewhere are refused with a clear message) and
// then used through an os.Root, which also refuses symbolic links that lead
// out of the directory.
type workspace struct {
	root     *os.Root
	dir      string // absolute path of Options.Dir, as shown by pwd
	realDir  string // dir with symbolic links resolved
	written  int64
	maxBytes int64
	entries  int
}

func openWorkspace(dir string, maxBytes int64) (*workspace, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("shellsim: workspace: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("shellsim: workspace: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		real = abs
	}
	return &workspace{root: root, dir: abs, realDir: real, maxBytes: maxBytes}, nil
}

func (ws *workspace) close() { ws.root.Close() }

// resolve turns a path named by the script, relative to cwd (itself
// relative to the workspace), into a clean slash-separated path relative to
// the workspace root ("." for the root).
func (ws *workspace) resolve(cwd, p string) (string, error) {
	if p == "" {
		return "", fs.ErrNotExist
	}
	if strings.ContainsRune(p, 0) {
		return "", fs.ErrInvalid
	}
	if path.IsAbs(p) {
		clean := path.Clean(p)
		for _, base := range []string{ws.dir, ws.realDir} {
			base = filepath.ToSlash(base)
			if clean == base {
				return ".", nil
			}
			if rest, ok := strings.CutPrefix(clean, strings.TrimSuffix(base, "/")+"/"); ok {
				return rest, nil
			}
		}
		return "", errOutside
	}
	rel := path.Join(cwd, p)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", errOutside
	}
	return rel, nil
}

// display is the absolute path of a workspace-relative path, for pwd.
func (ws *workspace) display(rel string) string {
	if rel == "." {
		return ws.dir
	}
	return filepath.Join(ws.dir, filepath.FromSlash(rel))
}

// noteCreate counts rel as a new entry if it does not exist yet.
func (ws *workspace) noteCreate(rel string) error {
	if _, err := ws.root.Lstat(rel); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if ws.entries >= maxEntries {
		return errTooManyFiles
	}
	ws.entries++
	return nil
}

// create opens rel for writing, truncating it or appending to it; the
// returned writer enforces the workspace write budget.
func (ws *workspace) create(rel string, appendTo bool, perm fs.FileMode) (*fileWriter, error) {
	if err := ws.noteCreate(rel); err != nil {
		return nil, err
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := ws.root.OpenFile(rel, flag, perm)
	if err != nil {
		return nil, err
	}
	return &fileWriter{f: f, ws: ws}, nil
}

// mkdirAll creates rel and its parents, counting new entries.
func (ws *workspace) mkdirAll(rel string) error {
	if fi, err := ws.root.Stat(rel); err == nil && fi.IsDir() {
		return nil
	}
	if err := ws.noteCreate(rel); err != nil {
		return err
	}
	return ws.root.MkdirAll(rel, 0o755)
}

// open opens rel for reading and refuses directories, as cat does.
func (ws *workspace) open(rel string) (*os.File, error) {
	f, err := ws.root.Open(rel)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, syscall.EISDIR
	}
	return f, nil
}

// readDir lists a directory, sorted by name.
func (ws *workspace) readDir(rel string) ([]fs.DirEntry, error) {
	return fs.ReadDir(ws.root.FS(), rel)
}

// fileWriter writes into a workspace file within the write budget.
type fileWriter struct {
	f  *os.File
	ws *workspace
}

func (w *fileWriter) Write(p []byte) (int, error) {
	room := w.ws.maxBytes - w.ws.written
	if int64(len(p)) > room {
		n, _ := w.f.Write(p[:max(room, 0)])
		w.ws.written += int64(n)
		return n, errWorkspaceFull
	}
	n, err := w.f.Write(p)
	w.ws.written += int64(n)
	return n, err
}

func (w *fileWriter) Close() error { return w.f.Close() }

var _ io.WriteCloser = (*fileWriter)(nil)

// describe renders a file system error the way coreutils do.
func describe(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	switch {
	case errors.Is(err, errOutside):
		return errOutside.Error()
	case strings.Contains(err.Error(), "path escapes from parent"):
		return "path escapes the job's workspace (symbolic link?)"
	case errors.Is(err, syscall.ENOTDIR):
		return "Not a directory"
	case errors.Is(err, syscall.EISDIR):
		return "Is a directory"
	case errors.Is(err, syscall.ENOTEMPTY):
		return "Directory not empty"
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrExist):
		return "File exists"
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied"
	case errors.Is(err, syscall.ENAMETOOLONG):
		return "File name too long"
	}
	return err.Error()
}
