package shellsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Execution follows `set -e` as POSIX defines it: a failing command stops
// the script unless it is part of a condition (if, elif, while, until), of an
// and-or list other than its last element, or of a pipeline negated with
// "!". cond carries that exemption down the tree.

func (sh *shell) execList(l *list, fds stdio, cond bool) (int, error) {
	if len(l.items) == 0 {
		return sh.status, nil
	}
	st := 0
	for _, ao := range l.items {
		var err error
		if st, err = sh.execAndOr(ao, fds, cond); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (sh *shell) execAndOr(ao *andOr, fds stdio, cond bool) (int, error) {
	st, err := sh.execPipeline(ao.first, fds, cond || len(ao.rest) > 0)
	if err != nil {
		return st, err
	}
	for i, it := range ao.rest {
		if it.and != (st == 0) {
			continue
		}
		if st, err = sh.execPipeline(it.p, fds, cond || i < len(ao.rest)-1); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (sh *shell) execPipeline(p *pipeline, fds stdio, cond bool) (int, error) {
	inner := cond || p.negate
	var st int
	var err error
	if len(p.cmds) == 1 {
		st, err = sh.execCommand(p.cmds[0], fds, inner)
	} else {
		st, err = sh.execStages(p.cmds, fds)
	}
	if err != nil {
		return st, err
	}
	if p.negate {
		st = b2i(st == 0)
	}
	sh.status = st
	if st != 0 && !inner && sh.errexit && !compoundOnly(p) {
		return st, &exitStatus{code: st}
	}
	return st, nil
}

// compoundOnly reports whether p is a single compound command, whose own
// status does not trigger set -e: the commands inside it already did.
func compoundOnly(p *pipeline) bool {
	if len(p.cmds) != 1 {
		return false
	}
	switch c := p.cmds[0].(type) {
	case *ifCmd, *forCmd, *whileCmd:
		return true
	case *groupCmd:
		return !c.subshell
	}
	return false
}

// execStages runs a pipeline one stage after the other, each in a
// subshell, handing the (bounded) output of a stage to the next as input.
// With pipefail the status is the last non-zero status of a stage.
func (sh *shell) execStages(cmds []command, fds stdio) (int, error) {
	in := fds.in
	st := 0
	for i, c := range cmds {
		out := fds.out
		var buf *cappedBuffer
		if i < len(cmds)-1 {
			buf = &cappedBuffer{limit: maxPipeBytes}
			out = buf
		}
		s, err := sh.subshell().execCommand(c, stdio{in: in, out: out, err: fds.err}, false)
		if s, err = settle(s, err); err != nil {
			return s, err
		}
		if (sh.pipefail && s != 0) || (!sh.pipefail && i == len(cmds)-1) {
			st = s
		}
		if buf != nil {
			in = bytes.NewReader(buf.buf.Bytes())
		}
	}
	return st, nil
}

// settle ends what a subshell may end: exit and loop control stop at its
// boundary, interruptions go on.
func settle(st int, err error) (int, error) {
	var ex *exitStatus
	var lc *loopControl
	switch {
	case errors.As(err, &ex):
		return ex.code, nil
	case errors.As(err, &lc):
		return st, nil
	}
	return st, err
}

func (sh *shell) execCommand(c command, fds stdio, cond bool) (int, error) {
	if err := sh.ctx.Err(); err != nil {
		return 1, err
	}
	if s, ok := c.(*simpleCmd); ok {
		return sh.execSimple(s, fds, cond)
	}
	x := sh.expander(fds.err)
	rio, closeAll, err := sh.redirect(c.redirections(), fds, x)
	if err != nil {
		return sh.shellFailure(err, fds)
	}
	defer closeAll()
	switch c := c.(type) {
	case *ifCmd:
		for i, cnd := range c.conds {
			st, err := sh.execList(cnd, rio, true)
			if err != nil {
				return st, err
			}
			if st == 0 {
				return sh.execList(c.bodies[i], rio, cond)
			}
		}
		if c.els != nil {
			return sh.execList(c.els, rio, cond)
		}
		sh.status = 0
		return 0, nil
	case *forCmd:
		items, err := x.fields(c.words)
		if err != nil {
			return sh.shellFailure(err, fds)
		}
		st := 0
		for _, it := range items {
			if err := sh.setVar(c.name, it); err != nil {
				return sh.shellFailure(err, fds)
			}
			st, err = sh.execList(c.body, rio, cond)
			if brk, err := loopNext(err); err != nil || brk {
				return st, err
			}
		}
		sh.status = st
		return st, nil
	case *whileCmd:
		st := 0
		for {
			if err := sh.ctx.Err(); err != nil {
				return 1, err
			}
			c0, err := sh.execList(c.cond, rio, true)
			if brk, err := loopNext(err); err != nil || brk {
				return st, err
			}
			if (c0 == 0) == c.until {
				break
			}
			st, err = sh.execList(c.body, rio, cond)
			if brk, err := loopNext(err); err != nil || brk {
				return st, err
			}
		}
		sh.status = st
		return st, nil
	case *groupCmd:
		if !c.subshell {
			return sh.execList(c.body, rio, cond)
		}
		return settle(sh.subshell().execList(c.body, rio, cond))
	case *testCmd:
		return sh.evalDoubleBracket(c, x, rio)
	}
	return 1, fmt.Errorf("shellsim: unknown command type %T", c)
}

// loopNext interprets the error of a loop body: break reports brk, continue
// reports nothing, and an outer break/continue is passed on one level up.
func loopNext(err error) (brk bool, _ error) {
	var lc *loopControl
	if !errors.As(err, &lc) {
		return false, err
	}
	if lc.level > 1 {
		return true, &loopControl{brk: lc.brk, level: lc.level - 1}
	}
	return lc.brk, nil
}

func (sh *shell) execSimple(c *simpleCmd, fds stdio, cond bool) (int, error) {
	x := sh.expander(fds.err)
	sh.substStatus = 0
	args, err := sh.expandArgs(x, c.args)
	if err != nil {
		return sh.shellFailure(err, fds)
	}
	rio, closeAll, err := sh.redirect(c.redirs, fds, x)
	if err != nil {
		return sh.shellFailure(err, fds)
	}
	defer closeAll()
	if len(args) == 0 {
		for _, a := range c.assigns {
			v, err := x.str(a.value)
			if err != nil {
				return sh.shellFailure(err, fds)
			}
			if a.appendTo {
				v = sh.vars[a.name] + v
			}
			if err := sh.setVar(a.name, v); err != nil {
				return sh.shellFailure(err, fds)
			}
		}
		return sh.substStatus, nil
	}
	if len(c.assigns) > 0 {
		restore, err := sh.tempAssign(c.assigns, x)
		if err != nil {
			return sh.shellFailure(err, fds)
		}
		defer restore()
	}
	raw := make([]string, len(c.args))
	for i, w := range c.args {
		raw[i] = w.raw
	}
	return sh.dispatch(args, raw, rio, cond)
}

// expandArgs expands the words of a command. The NAME=value operands of
// export and readonly are expanded like assignments, without splitting, as
// bash and POSIX.1-2024 do.
func (sh *shell) expandArgs(x *expander, words []*word) ([]string, error) {
	if len(words) == 0 {
		return nil, nil
	}
	name, ok := words[0].literal()
	if !ok || (name != "export" && name != "readonly") {
		return x.fields(words)
	}
	out := []string{name}
	for _, w := range words[1:] {
		if a, ok := splitAssign(w); ok {
			v, err := x.str(a.value)
			if err != nil {
				return nil, err
			}
			out = append(out, a.name+"="+v)
			continue
		}
		f, err := x.fields([]*word{w})
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// tempAssign applies the NAME=value prefixes of a command for its duration,
// exported, and returns the function that undoes them.
func (sh *shell) tempAssign(assigns []assign, x *expander) (func(), error) {
	type saved struct {
		name     string
		val      string
		set, exp bool
	}
	var undo []saved
	restore := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			u := undo[i]
			sh.unsetVar(u.name)
			if u.set {
				_ = sh.setVar(u.name, u.val)
			}
			if u.exp {
				sh.exported[u.name] = true
			}
		}
	}
	for _, a := range assigns {
		v, err := x.str(a.value)
		if err != nil {
			restore()
			return nil, err
		}
		old, set := sh.vars[a.name]
		undo = append(undo, saved{name: a.name, val: old, set: set, exp: sh.exported[a.name]})
		if a.appendTo {
			v = old + v
		}
		if err := sh.setVar(a.name, v); err != nil {
			restore()
			return nil, err
		}
		sh.exported[a.name] = true
	}
	return restore, nil
}

// shellFailure reports an error of the shell itself (expansion,
// redirection) as sh does: a message and status 1, or the end of the script
// for fatal errors. An ended context is passed on.
func (sh *shell) shellFailure(err error, fds stdio) (int, error) {
	if ctxErr := sh.ctx.Err(); ctxErr != nil {
		return 1, ctxErr
	}
	var ex *exitStatus
	if errors.As(err, &ex) {
		return ex.code, err
	}
	fmt.Fprintf(fds.err, "shellsim: %s\n", err)
	var se *shellError
	if errors.As(err, &se) && se.fatal {
		return 1, &exitStatus{code: 1}
	}
	return 1, nil
}

// redirect applies redirections left to right. The returned function closes
// the files it opened.
func (sh *shell) redirect(rs []*redir, fds stdio, x *expander) (stdio, func(), error) {
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	fail := func(err error) (stdio, func(), error) {
		closeAll()
		return fds, nil, err
	}
	setOut := func(fd int, w io.Writer) {
		if fd == 2 {
			fds.err = w
		} else if fd == 1 {
			fds.out = w
		}
	}
	for _, r := range rs {
		if r.fd > 2 {
			return fail(&shellError{msg: fmt.Sprintf("%d: bad file descriptor (only 0, 1 and 2 are supported)", r.fd)})
		}
		if r.op == "<<" {
			body, err := x.str(r.heredoc)
			if err != nil {
				return fail(err)
			}
			fds.in = strings.NewReader(body)
			continue
		}
		target, err := x.str(r.target)
		if err != nil {
			return fail(err)
		}
		switch r.op {
		case ">&", "<&":
			switch target {
			case "0":
				if r.fd == 0 {
					continue
				}
				return fail(&shellError{msg: "0: cannot redirect output to standard input"})
			case "1":
				setOut(r.fd, fds.out)
			case "2":
				setOut(r.fd, fds.err)
			case "-":
				if r.fd == 0 {
					fds.in = strings.NewReader("")
				}
				setOut(r.fd, io.Discard)
			default:
				if r.op != ">&" || r.fd != 1 {
					return fail(&shellError{msg: target + ": bad file descriptor"})
				}
				w, c, err := sh.openOut(target, false, fds)
				if err != nil {
					return fail(err)
				}
				if c != nil {
					closers = append(closers, c)
				}
				fds.out, fds.err = w, w
			}
		case ">", ">>", "&>", "&>>":
			w, c, err := sh.openOut(target, strings.HasSuffix(r.op, ">>"), fds)
			if err != nil {
				return fail(err)
			}
			if c != nil {
				closers = append(closers, c)
			}
			if r.op[0] == '&' {
				fds.out, fds.err = w, w
			} else {
				setOut(r.fd, w)
			}
		case "<":
			rd, c, err := sh.openIn(target, fds)
			if err != nil {
				return fail(err)
			}
			if c != nil {
				closers = append(closers, c)
			}
			if r.fd == 0 {
				fds.in = rd
			}
		}
	}
	return fds, closeAll, nil
}

func (sh *shell) openOut(target string, appendTo bool, cur stdio) (io.Writer, io.Closer, error) {
	switch target {
	case "/dev/null":
		return io.Discard, nil, nil
	case "/dev/stdout", "/dev/tty", "/dev/fd/1":
		return cur.out, nil, nil
	case "/dev/stderr", "/dev/fd/2":
		return cur.err, nil, nil
	}
	rel, err := sh.ws.resolve(sh.cwd, target)
	if err != nil {
		return nil, nil, &shellError{msg: target + ": " + describe(err)}
	}
	w, err := sh.ws.create(rel, appendTo, 0o644)
	if err != nil {
		return nil, nil, &shellError{msg: target + ": " + describe(err)}
	}
	return w, w, nil
}

func (sh *shell) openIn(target string, cur stdio) (io.Reader, io.Closer, error) {
	switch target {
	case "/dev/null":
		return strings.NewReader(""), nil, nil
	case "/dev/stdin", "/dev/fd/0":
		return cur.in, nil, nil
	}
	rel, err := sh.ws.resolve(sh.cwd, target)
	if err != nil {
		return nil, nil, &shellError{msg: target + ": " + describe(err)}
	}
	f, err := sh.ws.open(rel)
	if err != nil {
		return nil, nil, &shellError{msg: target + ": " + describe(err)}
	}
	return ctxReader{ctx: sh.ctx, r: f}, f, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
