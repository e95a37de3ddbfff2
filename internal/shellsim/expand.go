package shellsim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

var errArgTooLong = errors.New("argument list too long")

// shellError is an error of the shell itself (a bad substitution, a failed
// redirection). A fatal one ends the script, as ${X:?} does in sh.
type shellError struct {
	msg   string
	fatal bool
}

func (e *shellError) Error() string { return e.msg }

// seg is a piece of an expanded word. Quoted text is neither split nor
// globbed; unquoted text that came from an expansion is split on blanks.
type seg struct {
	s      string
	quoted bool
	split  bool
}

// expander expands the words of one command, keeping their total size
// within maxArgBytes.
type expander struct {
	sh   *shell
	errw io.Writer // stderr of command substitutions
	size int
}

func (sh *shell) expander(errw io.Writer) *expander {
	return &expander{sh: sh, errw: errw}
}

// fields expands words with field splitting and pathname expansion, as for
// the arguments of a command.
func (x *expander) fields(words []*word) ([]string, error) {
	var out []string
	for _, w := range words {
		segs, err := x.segs(w, false, false, nil)
		if err != nil {
			return nil, err
		}
		for _, f := range splitFields(segs) {
			out = append(out, x.sh.glob(f)...)
		}
	}
	return out, nil
}

// str expands w without splitting or globbing, as for assignments,
// redirection targets and here-documents.
func (x *expander) str(w *word) (string, error) {
	segs, err := x.segs(w, false, false, nil)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range segs {
		b.WriteString(s.s)
	}
	return b.String(), nil
}

// pattern expands w into a pattern for matchPattern: quoted characters are
// escaped so that they match literally.
func (x *expander) pattern(w *word) (string, error) {
	segs, err := x.segs(w, false, false, nil)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range segs {
		if s.quoted {
			b.WriteString(escapePattern(s.s))
		} else {
			b.WriteString(s.s)
		}
	}
	return b.String(), nil
}

// segs expands the parts of w. dq is set inside double quotes; inExp is set
// for the word of ${X:-word}, whose unquoted text is subject to splitting.
func (x *expander) segs(w *word, dq, inExp bool, out []seg) ([]seg, error) {
	for _, p := range w.parts {
		q := p.quoted || dq
		switch p.kind {
		case partLit:
			out = append(out, seg{s: p.lit, quoted: q, split: !q && inExp})
			x.size += len(p.lit)
		case partParam:
			if q {
				out = append(out, seg{quoted: true})
			}
			var err error
			if out, err = x.param(p.param, q, out); err != nil {
				return nil, err
			}
		case partArith:
			expr, err := x.str(p.arith)
			if err != nil {
				return nil, err
			}
			v, err := x.sh.arithmetic(expr)
			if err != nil {
				return nil, err
			}
			s := strconv.FormatInt(v, 10)
			out = append(out, seg{s: s, quoted: q, split: !q})
			x.size += len(s)
		case partCmdSubst:
			s, err := x.sh.commandSubst(p.subst, x.errw)
			if err != nil {
				return nil, err
			}
			out = append(out, seg{s: s, quoted: q, split: !q})
			x.size += len(s)
		}
		if x.size > maxArgBytes {
			return nil, errArgTooLong
		}
	}
	return out, nil
}

func (x *expander) param(pe *paramExp, q bool, out []seg) ([]seg, error) {
	val, set := x.sh.lookup(pe.name)
	plain := func(s string) []seg {
		x.size += len(s)
		return append(out, seg{s: s, quoted: q, split: !q})
	}
	if x.size+len(val) > maxArgBytes {
		return nil, errArgTooLong
	}
	switch pe.op {
	case "":
		return plain(val), nil
	case "len":
		return plain(strconv.Itoa(utf8.RuneCountInString(val))), nil
	case ":-", "-":
		if set && (val != "" || pe.op == "-") {
			return plain(val), nil
		}
		return x.segs(pe.arg, q, true, out)
	case ":+", "+":
		if set && (val != "" || pe.op == "+") {
			return x.segs(pe.arg, q, true, out)
		}
		return out, nil
	case ":=", "=":
		if set && (val != "" || pe.op == "=") {
			return plain(val), nil
		}
		s, err := x.str(pe.arg)
		if err != nil {
			return nil, err
		}
		if err := x.sh.setVar(pe.name, s); err != nil {
			return nil, &shellError{msg: fmt.Sprintf("${%s%s...}: %s", pe.name, pe.op, err)}
		}
		return plain(s), nil
	case ":?", "?":
		if set && (val != "" || pe.op == "?") {
			return plain(val), nil
		}
		msg, err := x.str(pe.arg)
		if err != nil {
			return nil, err
		}
		if msg == "" {
			msg = "parameter null or not set"
		}
		return nil, &shellError{msg: pe.name + ": " + msg, fatal: true}
	default: // # ## % %%
		pat, err := x.pattern(pe.arg)
		if err != nil {
			return nil, err
		}
		return plain(x.sh.trim(val, pat, pe.op)), nil
	}
}

// trim removes the shortest or longest prefix (#, ##) or suffix (%, %%) of
// val matching pat.
func (sh *shell) trim(val, pat, op string) string {
	m := sh.matcher()
	if !hasMeta(pat) {
		lit := unescapePattern(pat)
		if op[0] == '#' {
			return strings.TrimPrefix(val, lit)
		}
		return strings.TrimSuffix(val, lit)
	}
	// Candidate cut points are rune boundaries.
	cuts := []int{0}
	for i := range val {
		if i > 0 {
			cuts = append(cuts, i)
		}
	}
	cuts = append(cuts, len(val))
	switch op {
	case "#":
		for _, i := range cuts {
			if m.match(pat, val[:i]) {
				return val[i:]
			}
		}
	case "##":
		for k := len(cuts) - 1; k >= 0; k-- {
			if m.match(pat, val[:cuts[k]]) {
				return val[cuts[k]:]
			}
		}
	case "%":
		for k := len(cuts) - 1; k >= 0; k-- {
			if m.match(pat, val[cuts[k]:]) {
				return val[:cuts[k]]
			}
		}
	case "%%":
		for _, i := range cuts {
			if m.match(pat, val[i:]) {
				return val[:i]
			}
		}
	}
	return val
}

// splitFields splits segs into fields on unquoted blanks coming from
// expansions. A quoted empty string makes an (empty) field; an unquoted
// empty expansion makes none.
func splitFields(segs []seg) [][]seg {
	var fields [][]seg
	var cur []seg
	started := false
	for _, s := range segs {
		if !s.split {
			cur = append(cur, s)
			started = started || s.quoted || s.s != ""
			continue
		}
		start := 0
		for i := 0; i < len(s.s); i++ {
			if c := s.s[i]; c != ' ' && c != '\t' && c != '\n' {
				continue
			}
			if i > start {
				cur = append(cur, seg{s: s.s[start:i]})
				started = true
			}
			if started {
				fields = append(fields, cur)
				cur, started = nil, false
			}
			start = i + 1
		}
		if start < len(s.s) {
			cur = append(cur, seg{s: s.s[start:]})
			started = true
		}
	}
	if started {
		fields = append(fields, cur)
	}
	return fields
}

// glob performs pathname expansion of one field; without a match the
// field is kept as it is, as in sh.
func (sh *shell) glob(f []seg) []string {
	var lit, pat strings.Builder
	meta := false
	for _, s := range f {
		lit.WriteString(s.s)
		if s.quoted {
			pat.WriteString(escapePattern(s.s))
			continue
		}
		if strings.ContainsAny(s.s, "*?[") {
			meta = true
		}
		pat.WriteString(strings.ReplaceAll(s.s, `\`, `\\`))
	}
	if !meta || sh.noglob {
		return []string{lit.String()}
	}
	matches := sh.globPaths(pat.String())
	if len(matches) == 0 {
		return []string{lit.String()}
	}
	return matches
}

// Bounds of one pathname expansion.
const (
	maxGlobMatches = 10_000
	maxGlobDirs    = 1_000
)

// globPaths matches a pattern against the workspace, component by
// component; the results keep the form the script wrote (relative or
// absolute).
func (sh *shell) globPaths(pattern string) []string {
	comps := strings.Split(pattern, "/")
	// The leading components without metacharacters are taken as written.
	prefix := ""
	i := 0
	if strings.HasPrefix(pattern, "/") {
		prefix, i = "/", 1
	}
	for ; i < len(comps)-1 && !hasMeta(comps[i]); i++ {
		prefix += unescapePattern(comps[i]) + "/"
	}
	cands := []string{prefix}
	m := sh.matcher()
	dirs := 0
	for ; i < len(comps); i++ {
		comp := comps[i]
		last := i == len(comps)-1
		var next []string
		for _, c := range cands {
			switch {
			case comp == "" && last: // trailing slash: directories only
				if rel, err := sh.ws.resolve(sh.cwd, c); err == nil {
					if fi, err := sh.ws.root.Stat(rel); err == nil && fi.IsDir() {
						next = append(next, c)
					}
				}
			case !hasMeta(comp):
				p := c + unescapePattern(comp)
				if !last {
					p += "/"
				}
				next = append(next, p)
			default:
				dir := c
				if dir == "" {
					dir = "."
				}
				rel, err := sh.ws.resolve(sh.cwd, dir)
				if err != nil {
					continue
				}
				if dirs++; dirs > maxGlobDirs {
					return nil
				}
				entries, err := sh.ws.readDir(rel)
				if err != nil {
					continue
				}
				for _, e := range entries {
					name := e.Name()
					if strings.HasPrefix(name, ".") && !strings.HasPrefix(comp, ".") && !strings.HasPrefix(comp, `\.`) {
						continue
					}
					if !m.match(comp, name) {
						continue
					}
					if last {
						next = append(next, c+name)
					} else if e.IsDir() || e.Type()&fs.ModeSymlink != 0 && isDirLink(sh, c+name) {
						next = append(next, c+name+"/")
					}
					if len(next) > maxGlobMatches {
						return nil
					}
				}
			}
		}
		cands = next
		if len(cands) == 0 {
			return nil
		}
	}
	// Literal trailing components must exist.
	out := cands[:0]
	for _, c := range cands {
		rel, err := sh.ws.resolve(sh.cwd, c)
		if err != nil {
			continue
		}
		if _, err := sh.ws.root.Lstat(rel); err == nil {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

func isDirLink(sh *shell, p string) bool {
	rel, err := sh.ws.resolve(sh.cwd, p)
	if err != nil {
		return false
	}
	fi, err := sh.ws.root.Stat(rel)
	return err == nil && fi.IsDir()
}

// commandSubst runs $(list) in a subshell and returns its output without
// trailing newlines.
func (sh *shell) commandSubst(l *list, errw io.Writer) (string, error) {
	if sh.depth >= maxNesting {
		return "", &shellError{msg: "command substitutions nested too deeply"}
	}
	sub := sh.subshell()
	// bash (outside POSIX mode) clears -e in command substitutions.
	sub.errexit = false
	buf := &cappedBuffer{limit: maxSubstBytes}
	st, err := sub.execList(l, stdio{in: strings.NewReader(""), out: buf, err: errw}, false)
	var ex *exitStatus
	var lc *loopControl
	switch {
	case errors.As(err, &ex):
		st = ex.code
	case errors.As(err, &lc):
	case err != nil:
		return "", err
	}
	sh.substStatus = st
	return strings.TrimRight(buf.buf.String(), "\n"), nil
}
