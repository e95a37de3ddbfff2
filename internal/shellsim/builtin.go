package shellsim

import (
	"fmt"
	"io"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// call is one invocation of a builtin.
type call struct {
	sh   *shell
	name string
	args []string // without the command name
	stdio
	cond bool // the command runs where set -e is ignored (for eval)
}

func (c *call) errorf(format string, a ...any) {
	fmt.Fprintf(c.err, "%s: %s\n", c.name, fmt.Sprintf(format, a...))
}

// fail prints an error the way coreutils do and returns status.
func (c *call) fail(status int, format string, a ...any) int {
	c.errorf(format, a...)
	return status
}

type builtinFunc func(c *call) (int, error)

// lookupBuiltin returns the implementation of a builtin, or nil for
// commands that are simulated. A switch rather than a map keeps the table
// immutable and lets eval refer back to dispatch.
func lookupBuiltin(name string) builtinFunc {
	switch name {
	case "echo":
		return builtinEcho
	case "printf":
		return builtinPrintf
	case "true", ":":
		return func(*call) (int, error) { return 0, nil }
	case "false":
		return func(*call) (int, error) { return 1, nil }
	case "exit":
		return builtinExit
	case "break", "continue":
		return builtinLoopControl
	case "sleep":
		return builtinSleep
	case "export", "readonly":
		return builtinExport
	case "unset":
		return builtinUnset
	case "set":
		return builtinSet
	case "env":
		return builtinEnv
	case "printenv":
		return builtinPrintenv
	case "eval":
		return builtinEval
	case "test", "[":
		return builtinTest
	case "cd":
		return builtinCd
	case "pwd":
		return builtinPwd
	case "mkdir":
		return builtinMkdir
	case "touch":
		return builtinTouch
	case "cat":
		return builtinCat
	case "rm":
		return builtinRm
	case "ls":
		return builtinLs
	case "cp":
		return builtinCp
	case "mv":
		return builtinMv
	case "chmod":
		return builtinChmod
	case "grep":
		return builtinGrep
	case "wc":
		return builtinWc
	case "head", "tail":
		return builtinHeadTail
	case "tee":
		return builtinTee
	case "basename":
		return builtinBasename
	case "dirname":
		return builtinDirname
	case "unzip":
		return builtinUnzip
	case "zip":
		return builtinZip
	case "curl":
		return builtinCurl
	case "wget":
		return builtinWget
	}
	return nil
}

// dispatch runs a builtin or simulates the command. raw holds the words as
// written, for the "[simulated]" line (nil when the command was built by env).
func (sh *shell) dispatch(args, raw []string, fds stdio, cond bool) (int, error) {
	b := lookupBuiltin(args[0])
	if b == nil {
		return sh.simulate(args, raw, fds)
	}
	out := &trackWriter{w: fds.out}
	c := &call{sh: sh, name: args[0], args: args[1:], stdio: stdio{in: fds.in, out: out, err: fds.err}, cond: cond}
	st, err := b(c)
	if err != nil {
		return st, err
	}
	if out.err != nil && st == 0 {
		c.errorf("write error: %s", describe(out.err))
		st = 1
	}
	return st, nil
}

// simulate stands in for a command the simulator does not implement
// (make, npm, docker, ...): it reports that the command ran, takes
// Options.SimulatedDuration and fails with probability Options.FailureRate.
// The line shows the words as written, so that variables holding secrets
// are not expanded into the trace.
func (sh *shell) simulate(args, raw []string, fds stdio) (int, error) {
	text := strings.Join(args, " ")
	if raw != nil {
		text = strings.Join(raw, " ")
	}
	fmt.Fprintf(fds.out, "[simulated] %s\n", text)
	if d := sh.opts.SimulatedDuration; d > 0 {
		if err := sh.sleep(d); err != nil {
			return 1, err
		}
	}
	if sh.opts.FailureRate > 0 && sh.rand.Float64() < sh.opts.FailureRate {
		fmt.Fprintf(fds.err, "[simulated] %s: exit status 1\n", text)
		return 1, nil
	}
	return 0, nil
}

// sleep waits for d or until the run's context ends.
func (sh *shell) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-sh.ctx.Done():
		return sh.ctx.Err()
	case <-t.C:
		return nil
	}
}

func builtinEcho(c *call) (int, error) {
	newline, escapes := true, false
	args := c.args
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && strings.Trim(args[0][1:], "neE") == "" {
		for _, f := range args[0][1:] {
			switch f {
			case 'n':
				newline = false
			case 'e':
				escapes = true
			case 'E':
				escapes = false
			}
		}
		args = args[1:]
	}
	s := strings.Join(args, " ")
	if escapes {
		var stop bool
		if s, stop = expandEscapes(s, true); stop {
			newline = false
		}
	}
	if newline {
		s += "\n"
	}
	_, _ = io.WriteString(c.out, s)
	return 0, nil
}

func builtinExit(c *call) (int, error) {
	code := c.sh.status
	if len(c.args) > 0 {
		n, err := strconv.Atoi(strings.TrimSpace(c.args[0]))
		if err != nil {
			c.errorf("%s: numeric argument required", c.args[0])
			return 2, &exitStatus{code: 2}
		}
		code = n & 0xff
	}
	return code, &exitStatus{code: code}
}

func builtinLoopControl(c *call) (int, error) {
	n := 1
	if len(c.args) > 0 {
		v, err := strconv.Atoi(c.args[0])
		if err != nil || v < 1 {
			return c.fail(1, "%s: loop count out of range", c.args[0]), nil
		}
		n = v
	}
	return 0, &loopControl{brk: c.name == "break", level: n}
}

func builtinSleep(c *call) (int, error) {
	if len(c.args) == 0 {
		return c.fail(1, "missing operand"), nil
	}
	var total float64
	for _, a := range c.args {
		mult := 1.0
		num := a
		switch {
		case strings.HasSuffix(a, "s"):
			num = a[:len(a)-1]
		case strings.HasSuffix(a, "m"):
			num, mult = a[:len(a)-1], 60
		case strings.HasSuffix(a, "h"):
			num, mult = a[:len(a)-1], 3600
		case strings.HasSuffix(a, "d"):
			num, mult = a[:len(a)-1], 86400
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || f < 0 || math.IsNaN(f) {
			return c.fail(1, "invalid time interval '%s'", a), nil
		}
		total += f * mult
	}
	d := time.Duration(math.MaxInt64)
	if total*float64(time.Second) < float64(math.MaxInt64) {
		d = time.Duration(total * float64(time.Second))
	}
	if err := c.sh.sleep(d); err != nil {
		return 1, err
	}
	return 0, nil
}

func builtinExport(c *call) (int, error) {
	sh := c.sh
	if len(c.args) == 0 || (len(c.args) == 1 && c.args[0] == "-p") {
		for _, k := range sortedKeys(sh.vars) {
			if c.name == "readonly" || sh.exported[k] {
				fmt.Fprintf(c.out, "%s %s=%s\n", c.name, k, shellQuote(sh.vars[k]))
			}
		}
		return 0, nil
	}
	st := 0
	for _, a := range c.args {
		if a == "-p" || a == "-n" || a == "--" {
			continue
		}
		name, value, hasValue := strings.Cut(a, "=")
		if !validName(name) {
			st = c.fail(1, "`%s': not a valid identifier", a)
			continue
		}
		if hasValue {
			if err := sh.setVar(name, value); err != nil {
				st = c.fail(1, "%s", err)
				continue
			}
		}
		if c.name == "export" {
			sh.exported[name] = true
		}
	}
	return st, nil
}

func builtinUnset(c *call) (int, error) {
	for _, a := range c.args {
		if a == "-v" || a == "-f" {
			continue
		}
		c.sh.unsetVar(a)
	}
	return 0, nil
}

// builtinSet accepts the options GitLab scripts set. errexit, pipefail and
// noglob are honoured; the others (xtrace, nounset, ...) are accepted and
// ignored.
func builtinSet(c *call) (int, error) {
	sh := c.sh
	if len(c.args) == 0 {
		for _, k := range sortedKeys(sh.vars) {
			fmt.Fprintf(c.out, "%s=%s\n", k, shellQuote(sh.vars[k]))
		}
		return 0, nil
	}
	setOption := func(name string, on bool) bool {
		switch name {
		case "errexit":
			sh.errexit = on
		case "pipefail":
			sh.pipefail = on
		case "noglob":
			sh.noglob = on
		case "xtrace", "nounset", "verbose", "noclobber", "allexport", "notify", "noexec",
			"ignoreeof", "monitor", "posix", "hashall", "braceexpand", "errtrace", "functrace", "histexpand", "history", "emacs", "vi":
		default:
			return false
		}
		return true
	}
	args := c.args
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break // positional parameters are not supported; ignore them
		}
		on := a[0] == '-'
		for _, f := range a[1:] {
			switch f {
			case 'e':
				sh.errexit = on
			case 'f':
				sh.noglob = on
			case 'o':
				i++
				if i >= len(args) {
					return c.fail(2, "-o: option name required"), nil
				}
				if !setOption(args[i], on) {
					return c.fail(2, "%s: invalid option name", args[i]), nil
				}
			case 'u', 'x', 'v', 'h', 'C', 'a', 'b', 'm', 'n', 'B', 'H', 'P', 'T', 'E', 'k', 't':
			default:
				return c.fail(2, "%c%c: invalid option", a[0], f), nil
			}
		}
	}
	return 0, nil
}

// builtinEnv prints the environment, or runs a command with extra
// variables: env [-i] [-u NAME] [NAME=value]... [command [args]].
func builtinEnv(c *call) (int, error) {
	sh := c.sh
	args := c.args
	clear := false
	var unset []string
	var assigns []assign
options:
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "-i" || a == "-" || a == "--ignore-environment":
			clear = true
		case a == "-u" && len(args) > 1:
			unset = append(unset, args[1])
			args = args[1:]
		case strings.Contains(a, "=") && !strings.HasPrefix(a, "="):
			name, value, _ := strings.Cut(a, "=")
			assigns = append(assigns, assign{name: name, value: &word{parts: []wordPart{{kind: partLit, lit: value, quoted: true}}}})
		default:
			break options
		}
		args = args[1:]
	}
	if len(args) == 0 {
		env := map[string]string{}
		if !clear {
			for k, v := range sh.vars {
				if sh.exported[k] {
					env[k] = v
				}
			}
		}
		for _, u := range unset {
			delete(env, u)
		}
		for _, a := range assigns {
			env[a.name] = a.value.parts[0].lit
		}
		for _, k := range sortedKeys(env) {
			fmt.Fprintf(c.out, "%s=%s\n", k, env[k])
		}
		return 0, nil
	}
	var valid []assign
	for _, a := range assigns {
		if validName(a.name) {
			valid = append(valid, a)
		}
	}
	restore, err := sh.tempAssign(valid, sh.expander(c.err))
	if err != nil {
		return c.fail(125, "%s", err), nil
	}
	defer restore()
	return sh.dispatch(args, nil, c.stdio, c.cond)
}

func builtinPrintenv(c *call) (int, error) {
	sh := c.sh
	if len(c.args) == 0 {
		for _, k := range sortedKeys(sh.vars) {
			if sh.exported[k] {
				fmt.Fprintf(c.out, "%s=%s\n", k, sh.vars[k])
			}
		}
		return 0, nil
	}
	st := 0
	for _, name := range c.args {
		v, ok := sh.vars[name]
		if !ok || !sh.exported[name] {
			st = 1
			continue
		}
		fmt.Fprintln(c.out, v)
	}
	return st, nil
}

// builtinEval parses its arguments as a script and runs it in the current
// shell.
func builtinEval(c *call) (int, error) {
	sh := c.sh
	if sh.depth >= maxNesting {
		return c.fail(2, "nested too deeply"), nil
	}
	l, err := parseAt(strings.Join(c.args, " "), sh.depth)
	if err != nil {
		return c.fail(2, "%s", err), nil
	}
	sh.depth++
	defer func() { sh.depth-- }()
	return sh.execList(l, c.stdio, c.cond)
}

func builtinBasename(c *call) (int, error) {
	if len(c.args) == 0 {
		return c.fail(1, "missing operand"), nil
	}
	s := strings.TrimRight(c.args[0], "/")
	if s == "" && c.args[0] != "" {
		s = "/"
	} else {
		s = path.Base(s)
	}
	if len(c.args) > 1 && s != c.args[1] {
		s = strings.TrimSuffix(s, c.args[1])
	}
	fmt.Fprintln(c.out, s)
	return 0, nil
}

func builtinDirname(c *call) (int, error) {
	if len(c.args) == 0 {
		return c.fail(1, "missing operand"), nil
	}
	for _, a := range c.args {
		s := strings.TrimRight(a, "/")
		if s == "" && a != "" {
			fmt.Fprintln(c.out, "/")
			continue
		}
		fmt.Fprintln(c.out, path.Dir(s))
	}
	return 0, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shellQuote quotes s for output that can be read back by sh.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
