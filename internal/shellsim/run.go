package shellsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
)

// Limits that keep one run's memory bounded whatever the script does.
const (
	// maxArgBytes bounds the expanded words of one command, like ARG_MAX.
	maxArgBytes = 2 << 20
	// maxVarBytes bounds the total size of all shell variables.
	maxVarBytes = 64 << 20
	// maxPipeBytes bounds the output of one pipeline stage.
	maxPipeBytes = 16 << 20
	// maxSubstBytes bounds the output of one command substitution.
	maxSubstBytes = 1 << 20
)

// exitStatus ends the script (exit, set -e, ${X:?}) with a status.
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// loopControl is break or continue travelling up to its loop.
type loopControl struct {
	brk   bool
	level int
}

func (l *loopControl) Error() string { return "loop control outside a loop" }

// shell is the interpreter state of one run. It is used by one goroutine.
type shell struct {
	ctx    context.Context
	opts   Options
	ws     *workspace
	trace  *traceWriter
	client *http.Client
	rand   *rand.Rand

	vars     map[string]string
	exported map[string]bool
	varBytes int

	cwd         string // relative to the workspace root
	status      int    // $?
	substStatus int    // status of the last command substitution
	errexit     bool
	pipefail    bool
	noglob      bool
	depth       int // nesting of eval, substitutions and subshells
}

// Run runs lines in order as GitLab's runner does with `set -eo pipefail`:
// each line is echoed to the trace as "$ <line>", then executed; a command
// that fails outside a condition stops the script, whose exit status is
// then that command's. Otherwise the status is that of the last command, as
// for a shell script. A line with a syntax error stops the script with
// status 2.
//
// A non-nil error means the script did not complete: ctx ended (the error
// wraps ctx.Err(), so errors.Is(err, context.Canceled) holds after a
// cancellation) or opts are invalid; exitCode is then -1. Writing the trace
// failing is reported as an error alongside the script's exit code.
func Run(ctx context.Context, lines []string, opts Options) (exitCode int, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return -1, err
	}
	ws, err := openWorkspace(opts.Dir, opts.MaxWorkspaceBytes)
	if err != nil {
		return -1, err
	}
	defer ws.close()
	sh := newShell(ctx, opts, ws)
	if opts.HTTPClient == nil {
		// A transport of the run's own, so that its connections do not
		// outlive it.
		tr := &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
		if def, ok := http.DefaultTransport.(*http.Transport); ok {
			tr = def.Clone()
		}
		sh.client = &http.Client{Timeout: DefaultHTTPTimeout, Transport: tr}
		defer tr.CloseIdleConnections()
	}
	code, err := sh.runLines(lines)
	if err != nil {
		return -1, fmt.Errorf("shellsim: script interrupted: %w", err)
	}
	if sh.trace.err != nil {
		return code, fmt.Errorf("shellsim: write trace: %w", sh.trace.err)
	}
	return code, nil
}

func newShell(ctx context.Context, opts Options, ws *workspace) *shell {
	sh := &shell{
		ctx:      ctx,
		opts:     opts,
		ws:       ws,
		trace:    &traceWriter{w: opts.Stdout, limit: opts.MaxOutput},
		client:   opts.HTTPClient,
		rand:     opts.Rand,
		vars:     make(map[string]string, len(opts.Env)+2),
		exported: make(map[string]bool, len(opts.Env)+2),
		cwd:      ".",
		errexit:  true,
		pipefail: true,
	}
	for k, v := range opts.Env {
		sh.vars[k] = v
		sh.exported[k] = true
		sh.varBytes += len(k) + len(v)
	}
	_ = sh.setVar("PWD", ws.dir)
	return sh
}

func (sh *shell) runLines(lines []string) (int, error) {
	for _, line := range lines {
		if err := sh.ctx.Err(); err != nil {
			return -1, err
		}
		sh.echo(line)
		prog, err := parseScript(line)
		if err != nil {
			fmt.Fprintf(sh.trace, "shellsim: %s\n", err)
			return 2, nil
		}
		_, err = sh.execList(prog, sh.stdio(), false)
		var ex *exitStatus
		var lc *loopControl
		switch {
		case errors.As(err, &ex):
			return ex.code, nil
		case errors.As(err, &lc):
			// break/continue outside a loop is ignored, as in bash.
		case err != nil:
			return -1, err
		}
	}
	return sh.status, nil
}

// echo writes the runner's "$ <line>" line. A multi-line command shows its
// first line, as GitLab's runner does.
func (sh *shell) echo(line string) {
	line = strings.TrimRight(line, "\n")
	if first, _, multi := strings.Cut(line, "\n"); multi {
		line = first + " # collapsed multi-line command"
	}
	if sh.trace.n > 0 && !sh.trace.lastNL {
		// The previous command's output did not end its line.
		fmt.Fprintln(sh.trace)
	}
	fmt.Fprintf(sh.trace, "$ %s\n", line)
}

// stdio is the descriptors of a command.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func (sh *shell) stdio() stdio {
	return stdio{in: strings.NewReader(""), out: sh.trace, err: sh.trace}
}

// subshell copies the state a ( list ), a pipeline stage or a command
// substitution may change without affecting its parent.
func (sh *shell) subshell() *shell {
	c := *sh
	c.vars = make(map[string]string, len(sh.vars))
	for k, v := range sh.vars {
		c.vars[k] = v
	}
	c.exported = make(map[string]bool, len(sh.exported))
	for k, v := range sh.exported {
		c.exported[k] = v
	}
	c.depth++
	return &c
}

// lookup returns a variable, including the special parameters.
func (sh *shell) lookup(name string) (string, bool) {
	switch name {
	case "?":
		return fmt.Sprint(sh.status), true
	case "$":
		return "1", true
	case "#":
		return "0", true
	case "0":
		return "sh", true
	case "-":
		flags := ""
		if sh.errexit {
			flags += "e"
		}
		if sh.noglob {
			flags += "f"
		}
		return flags, true
	case "@", "*", "!":
		return "", false
	}
	v, ok := sh.vars[name]
	return v, ok
}

// setVar assigns a variable within the variable storage limit.
func (sh *shell) setVar(name, value string) error {
	if !validName(name) {
		return fmt.Errorf("%s: not a valid identifier", name)
	}
	old, had := sh.vars[name]
	size := sh.varBytes + len(value)
	if had {
		size -= len(old)
	} else {
		size += len(name)
	}
	if size > maxVarBytes && size > sh.varBytes {
		return errors.New("variable storage limit exceeded")
	}
	sh.vars[name] = value
	sh.varBytes = size
	if name == "PWD" {
		sh.exported[name] = true
	}
	return nil
}

func (sh *shell) unsetVar(name string) {
	if old, ok := sh.vars[name]; ok {
		sh.varBytes -= len(name) + len(old)
		delete(sh.vars, name)
	}
	delete(sh.exported, name)
}
