package shellsim

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// testError is a malformed test expression: status 2, as in sh.
type testError struct{ msg string }

func (e *testError) Error() string { return e.msg }

// maxTestParens bounds parenthesis nesting in test expressions.
const maxTestParens = 64

func builtinTest(c *call) (int, error) {
	args := c.args
	if c.name == "[" {
		if len(args) == 0 || args[len(args)-1] != "]" {
			return c.fail(2, "missing `]'"), nil
		}
		args = args[:len(args)-1]
	}
	t := &tester{sh: c.sh, args: args}
	ok, err := t.eval()
	if err != nil {
		return c.fail(2, "%s", err), nil
	}
	return b2i(!ok), nil
}

// tester evaluates test/[ expressions, using POSIX's rules by argument
// count for up to four arguments and a precedence parser (! > -a > -o)
// beyond.
type tester struct {
	sh    *shell
	args  []string
	pos   int
	depth int
}

func (t *tester) eval() (bool, error) {
	a := t.args
	switch len(a) {
	case 0:
		return false, nil
	case 1:
		return a[0] != "", nil
	case 2:
		if a[0] == "!" {
			return a[1] == "", nil
		}
		if isUnaryTest(a[0]) {
			return t.unary(a[0], a[1])
		}
		return false, &testError{msg: a[0] + ": unary operator expected"}
	case 3:
		if isBinaryTest(a[1]) {
			return t.binary(a[0], a[1], a[2])
		}
		if a[1] == "-a" || a[1] == "-o" {
			if a[1] == "-a" {
				return a[0] != "" && a[2] != "", nil
			}
			return a[0] != "" || a[2] != "", nil
		}
		if a[0] == "!" {
			ok, err := (&tester{sh: t.sh, args: a[1:]}).eval()
			return !ok, err
		}
		if a[0] == "(" && a[2] == ")" {
			return a[1] != "", nil
		}
		return false, &testError{msg: a[1] + ": binary operator expected"}
	case 4:
		if a[0] == "!" {
			ok, err := (&tester{sh: t.sh, args: a[1:]}).eval()
			return !ok, err
		}
		if a[0] == "(" && a[3] == ")" {
			return (&tester{sh: t.sh, args: a[1:3]}).eval()
		}
	}
	ok, err := t.or()
	if err == nil && t.pos < len(t.args) {
		err = &testError{msg: t.args[t.pos] + ": unexpected argument"}
	}
	return ok, err
}

func (t *tester) peek() (string, bool) {
	if t.pos < len(t.args) {
		return t.args[t.pos], true
	}
	return "", false
}

func (t *tester) or() (bool, error) {
	ok, err := t.and()
	for err == nil {
		if s, _ := t.peek(); s != "-o" {
			break
		}
		t.pos++
		var r bool
		r, err = t.and()
		ok = ok || r
	}
	return ok, err
}

func (t *tester) and() (bool, error) {
	ok, err := t.not()
	for err == nil {
		if s, _ := t.peek(); s != "-a" {
			break
		}
		t.pos++
		var r bool
		r, err = t.not()
		ok = ok && r
	}
	return ok, err
}

func (t *tester) not() (bool, error) {
	neg := false
	for {
		s, ok := t.peek()
		if !ok || s != "!" || t.pos+1 >= len(t.args) {
			break
		}
		neg = !neg
		t.pos++
	}
	ok, err := t.primary()
	return ok != neg, err
}

func (t *tester) primary() (bool, error) {
	a := t.args
	s, ok := t.peek()
	if !ok {
		return false, &testError{msg: "argument expected"}
	}
	if t.pos+2 < len(a) && isBinaryTest(a[t.pos+1]) {
		t.pos += 3
		return t.binary(a[t.pos-3], a[t.pos-2], a[t.pos-1])
	}
	if s == "(" && t.pos+1 < len(a) {
		if t.depth++; t.depth > maxTestParens {
			return false, &testError{msg: "too many nested parentheses"}
		}
		t.pos++
		ok, err := t.or()
		t.depth--
		if err != nil {
			return false, err
		}
		if s, _ := t.peek(); s != ")" {
			return false, &testError{msg: "')' expected"}
		}
		t.pos++
		return ok, nil
	}
	if isUnaryTest(s) && t.pos+1 < len(a) {
		t.pos += 2
		return t.unary(s, a[t.pos-1])
	}
	t.pos++
	return s != "", nil
}

func isUnaryTest(op string) bool {
	switch op {
	case "-n", "-z", "-e", "-f", "-d", "-s", "-r", "-w", "-x", "-L", "-h", "-p", "-S", "-b", "-c", "-t", "-g", "-u", "-k", "-O", "-G", "-N":
		return true
	}
	return false
}

func isBinaryTest(op string) bool {
	switch op {
	case "=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef":
		return true
	}
	return false
}

func (t *tester) unary(op, arg string) (bool, error) {
	switch op {
	case "-n":
		return arg != "", nil
	case "-z":
		return arg == "", nil
	case "-t":
		return false, nil
	}
	return t.sh.fileTest(op, arg)
}

// fileTest answers -e, -f, -d and friends inside the workspace. A path
// outside it is an error (status 2) rather than a silent "no".
func (sh *shell) fileTest(op, p string) (bool, error) {
	if p == "/dev/null" {
		return op == "-e" || op == "-c" || op == "-r" || op == "-w", nil
	}
	rel, err := sh.ws.resolve(sh.cwd, p)
	if errors.Is(err, errOutside) {
		return false, &testError{msg: p + ": " + describe(err)}
	}
	if err != nil {
		return false, nil
	}
	var fi fs.FileInfo
	if op == "-L" || op == "-h" {
		fi, err = sh.ws.root.Lstat(rel)
	} else {
		fi, err = sh.ws.root.Stat(rel)
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), "escapes") {
			return false, &testError{msg: p + ": " + describe(err)}
		}
		return false, nil
	}
	m := fi.Mode()
	switch op {
	case "-e":
		return true, nil
	case "-f":
		return m.IsRegular(), nil
	case "-d":
		return m.IsDir(), nil
	case "-s":
		return fi.Size() > 0, nil
	case "-r":
		return m.Perm()&0o444 != 0, nil
	case "-w":
		return m.Perm()&0o222 != 0, nil
	case "-x":
		return m.Perm()&0o111 != 0, nil
	case "-L", "-h":
		return m&fs.ModeSymlink != 0, nil
	case "-p":
		return m&fs.ModeNamedPipe != 0, nil
	case "-S":
		return m&fs.ModeSocket != 0, nil
	case "-b":
		return m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0, nil
	case "-c":
		return m&fs.ModeCharDevice != 0, nil
	case "-g":
		return m&fs.ModeSetgid != 0, nil
	case "-u":
		return m&fs.ModeSetuid != 0, nil
	case "-k":
		return m&fs.ModeSticky != 0, nil
	}
	return true, nil // -O, -G, -N: the job owns its workspace
}

func (t *tester) binary(l, op, r string) (bool, error) {
	switch op {
	case "=", "==":
		return l == r, nil
	case "!=":
		return l != r, nil
	case "<":
		return l < r, nil
	case ">":
		return l > r, nil
	case "-nt", "-ot", "-ef":
		return t.sh.compareFiles(l, op, r)
	}
	a, err := testInt(l)
	if err != nil {
		return false, err
	}
	b, err := testInt(r)
	if err != nil {
		return false, err
	}
	switch op {
	case "-eq":
		return a == b, nil
	case "-ne":
		return a != b, nil
	case "-lt":
		return a < b, nil
	case "-le":
		return a <= b, nil
	case "-gt":
		return a > b, nil
	}
	return a >= b, nil // -ge
}

func testInt(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, &testError{msg: s + ": integer expression expected"}
	}
	return n, nil
}

func (sh *shell) compareFiles(l, op, r string) (bool, error) {
	stat := func(p string) (fs.FileInfo, error) {
		rel, err := sh.ws.resolve(sh.cwd, p)
		if errors.Is(err, errOutside) {
			return nil, &testError{msg: p + ": " + describe(err)}
		}
		if err != nil {
			return nil, nil
		}
		fi, _ := sh.ws.root.Stat(rel)
		return fi, nil
	}
	a, err := stat(l)
	if err != nil {
		return false, err
	}
	b, err := stat(r)
	if err != nil {
		return false, err
	}
	switch op {
	case "-nt":
		return a != nil && (b == nil || a.ModTime().After(b.ModTime())), nil
	case "-ot":
		return b != nil && (a == nil || a.ModTime().Before(b.ModTime())), nil
	}
	return a != nil && b != nil && os.SameFile(a, b), nil
}

// evalDoubleBracket evaluates bash's [[ ... ]]: no word splitting or
// globbing, && || ! ( ) operators, == and != against patterns (unquoted
// right-hand sides), =~ against regular expressions (Go's RE2 syntax, which
// covers POSIX EREs as scripts use them).
func (sh *shell) evalDoubleBracket(c *testCmd, x *expander, fds stdio) (int, error) {
	e := &bracketEval{sh: sh, x: x, items: c.items}
	ok, err := e.or()
	if err == nil && e.pos < len(e.items) {
		err = &testError{msg: "syntax error in conditional expression"}
	}
	if err != nil {
		var te *testError
		if errors.As(err, &te) {
			fmt.Fprintf(fds.err, "shellsim: [[: %s\n", te.msg)
			return 2, nil
		}
		return sh.shellFailure(err, fds)
	}
	return b2i(!ok), nil
}

type bracketEval struct {
	sh    *shell
	x     *expander
	items []testItem
	pos   int
	depth int
}

func (e *bracketEval) peekOp() string {
	if e.pos < len(e.items) {
		return e.items[e.pos].op
	}
	return "end"
}

func (e *bracketEval) or() (bool, error) {
	ok, err := e.and()
	for err == nil && e.peekOp() == "||" {
		e.pos++
		var r bool
		if r, err = e.and(); err == nil {
			ok = ok || r
		}
	}
	return ok, err
}

func (e *bracketEval) and() (bool, error) {
	ok, err := e.not()
	for err == nil && e.peekOp() == "&&" {
		e.pos++
		var r bool
		if r, err = e.not(); err == nil {
			ok = ok && r
		}
	}
	return ok, err
}

func (e *bracketEval) not() (bool, error) {
	neg := false
	for e.peekOp() == "!" {
		neg = !neg
		e.pos++
	}
	ok, err := e.primary()
	return ok != neg, err
}

func (e *bracketEval) primary() (bool, error) {
	if e.pos >= len(e.items) {
		return false, &testError{msg: "unexpected end of conditional expression"}
	}
	it := e.items[e.pos]
	if it.op == "(" {
		if e.depth++; e.depth > maxTestParens {
			return false, &testError{msg: "too many nested parentheses"}
		}
		e.pos++
		ok, err := e.or()
		e.depth--
		if err != nil {
			return false, err
		}
		if e.peekOp() != ")" {
			return false, &testError{msg: "')' expected"}
		}
		e.pos++
		return ok, nil
	}
	if it.op != "" {
		return false, &testError{msg: "unexpected '" + it.op + "'"}
	}
	// Binary: word OP word.
	if e.pos+2 < len(e.items) && e.items[e.pos+2].op == "" {
		opItem := e.items[e.pos+1]
		op := opItem.op
		if op == "" {
			op, _ = opItem.word.literal()
		}
		if op == "=~" || op == "<" || op == ">" || isBinaryTest(op) {
			l, err := e.x.str(it.word)
			if err != nil {
				return false, err
			}
			rw := e.items[e.pos+2].word
			e.pos += 3
			switch op {
			case "=", "==", "!=":
				pat, err := e.x.pattern(rw)
				if err != nil {
					return false, err
				}
				m := e.sh.matcher().match(pat, l)
				return m == (op != "!="), nil
			case "=~":
				re, err := e.regexp(rw)
				if err != nil {
					return false, err
				}
				return re.MatchString(l), nil
			}
			r, err := e.x.str(rw)
			if err != nil {
				return false, err
			}
			return (&tester{sh: e.sh}).binary(l, op, r)
		}
	}
	// Unary: -f word.
	if s, ok := it.word.literal(); ok && isUnaryTest(s) && e.pos+1 < len(e.items) && e.items[e.pos+1].op == "" {
		arg, err := e.x.str(e.items[e.pos+1].word)
		if err != nil {
			return false, err
		}
		e.pos += 2
		return (&tester{sh: e.sh}).unary(s, arg)
	}
	s, err := e.x.str(it.word)
	if err != nil {
		return false, err
	}
	e.pos++
	return s != "", nil
}

// regexp builds the regular expression of =~; quoted parts match
// literally, as in bash.
func (e *bracketEval) regexp(w *word) (*regexp.Regexp, error) {
	segs, err := e.x.segs(w, false, false, nil)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, s := range segs {
		if s.quoted {
			b.WriteString(regexp.QuoteMeta(s.s))
		} else {
			b.WriteString(s.s)
		}
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, &testError{msg: "invalid regular expression: " + err.Error()}
	}
	return re, nil
}
