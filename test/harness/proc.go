package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build runs `go build` from the module root, found with `go env GOMOD`,
// writing ingress, dispatcher and runner-sim into dir, and makes dir the
// directory Start runs binaries from. Call it once, from TestMain.
func Build(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return fmt.Errorf("go env GOMOD: not inside the module")
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./ingress", "./dispatcher", "./runner-sim")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build binaries: %v\n%s", err, out)
	}
	for _, name := range []string{"ingress", "dispatcher", "runner-sim"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("build binaries: %s missing: %w", name, err)
		}
	}
	binDir = dir
	return nil
}

// binDir holds the binaries Build built for this run; it is set once,
// before any test starts.
var binDir string

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Proc is one running process: a binary of the stack, or a server a test
// controls (NATS, a private Postgres).
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// StartProc starts cmd with its output collected, as name.
func StartProc(name string, cmd *exec.Cmd) (*Proc, error) {
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Output is everything the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitCode is the process's exit status, -1 while it runs or when a signal
// ended it.
func (p *Proc) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.Cmd.ProcessState.ExitCode()
}

// WaitExit waits up to d for the process to end.
func (p *Proc) WaitExit(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Stop sends SIGTERM, and SIGKILL if the process has not ended after grace.
func (p *Proc) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	if p.WaitExit(grace) {
		return
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Kill ends the process at once with SIGKILL, as a crash would.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}
