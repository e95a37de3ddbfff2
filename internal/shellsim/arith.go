package shellsim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Arithmetic expansion $((...)): 64-bit integers, variables by name or
// $NAME, and C's operators without assignment (+ - * / % ** << >> < <= > >=
// == != & ^ | && || ! ~ and ?:).

// arithError is an error in an arithmetic expression; the command fails
// with status 1, as in bash.
type arithError struct{ msg string }

func (e *arithError) Error() string { return e.msg }

type arith struct {
	sh    *shell
	src   string
	pos   int
	depth int
}

// arithmetic evaluates an already expanded expression.
func (sh *shell) arithmetic(expr string) (int64, error) {
	a := &arith{sh: sh, src: expr}
	v, err := a.ternary()
	if err != nil {
		return 0, err
	}
	a.skip()
	if a.pos < len(a.src) {
		return 0, a.fail("syntax error: invalid arithmetic operator")
	}
	return v, nil
}

func (a *arith) fail(msg string) error {
	msg = strings.TrimSpace(a.src) + ": " + msg
	if rest := strings.TrimSpace(a.src[min(a.pos, len(a.src)):]); rest != "" {
		msg += fmt.Sprintf(" (error token is %q)", rest)
	}
	return &arithError{msg: msg}
}

func (a *arith) skip() {
	for a.pos < len(a.src) && strings.IndexByte(" \t\n\r", a.src[a.pos]) >= 0 {
		a.pos++
	}
}

// arithLevels lists the binary operators by precedence, lowest first. It
// is read-only.
var arithLevels = [][]string{
	{"||"}, {"&&"}, {"|"}, {"^"}, {"&"}, {"==", "!="}, {"<=", ">=", "<", ">"},
	{"<<", ">>"}, {"+", "-"}, {"*", "/", "%"},
}

func (a *arith) ternary() (int64, error) {
	if a.depth++; a.depth > maxNesting {
		return 0, a.fail("expression nested too deeply")
	}
	defer func() { a.depth-- }()
	cond, err := a.binary(0)
	if err != nil {
		return 0, err
	}
	a.skip()
	if !strings.HasPrefix(a.src[a.pos:], "?") {
		return cond, nil
	}
	a.pos++
	x, err := a.ternary()
	if err != nil {
		return 0, err
	}
	a.skip()
	if !strings.HasPrefix(a.src[a.pos:], ":") {
		return 0, a.fail("expected ':'")
	}
	a.pos++
	y, err := a.ternary()
	if err != nil {
		return 0, err
	}
	if cond != 0 {
		return x, nil
	}
	return y, nil
}

func (a *arith) binary(level int) (int64, error) {
	if level == len(arithLevels) {
		return a.power()
	}
	l, err := a.binary(level + 1)
	if err != nil {
		return 0, err
	}
	for {
		a.skip()
		op := ""
		for _, o := range arithLevels[level] {
			if strings.HasPrefix(a.src[a.pos:], o) && !a.longerOp(o) {
				op = o
				break
			}
		}
		if op == "" {
			return l, nil
		}
		a.pos += len(op)
		r, err := a.binary(level + 1)
		if err != nil {
			return 0, err
		}
		if l, err = a.apply(op, l, r); err != nil {
			return 0, err
		}
	}
}

// longerOp reports whether the operator o at the current position is the
// start of a longer one ("|" of "||", "<" of "<<", "*" of "**", "=" of
// an assignment).
func (a *arith) longerOp(o string) bool {
	rest := a.src[a.pos+len(o):]
	switch o {
	case "|", "&", "<", ">", "*":
		return strings.HasPrefix(rest, o) || (o != "*" && strings.HasPrefix(rest, "="))
	case "+", "-", "/", "%", "^":
		return strings.HasPrefix(rest, "=")
	}
	return false
}

func (a *arith) apply(op string, l, r int64) (int64, error) {
	switch op {
	case "||":
		return int64(b2i(l != 0 || r != 0)), nil
	case "&&":
		return int64(b2i(l != 0 && r != 0)), nil
	case "|":
		return l | r, nil
	case "^":
		return l ^ r, nil
	case "&":
		return l & r, nil
	case "==":
		return int64(b2i(l == r)), nil
	case "!=":
		return int64(b2i(l != r)), nil
	case "<":
		return int64(b2i(l < r)), nil
	case "<=":
		return int64(b2i(l <= r)), nil
	case ">":
		return int64(b2i(l > r)), nil
	case ">=":
		return int64(b2i(l >= r)), nil
	case "<<":
		return l << (uint64(r) & 63), nil
	case ">>":
		return l >> (uint64(r) & 63), nil
	case "+":
		return l + r, nil
	case "-":
		return l - r, nil
	case "*":
		return l * r, nil
	}
	if r == 0 {
		return 0, a.fail("division by 0")
	}
	if r == -1 { // avoid the overflow trap of MinInt64 / -1
		if op == "/" {
			return -l, nil
		}
		return 0, nil
	}
	if op == "/" {
		return l / r, nil
	}
	return l % r, nil
}

func (a *arith) power() (int64, error) {
	base, err := a.unary()
	if err != nil {
		return 0, err
	}
	a.skip()
	if !strings.HasPrefix(a.src[a.pos:], "**") {
		return base, nil
	}
	a.pos += 2
	exp, err := a.power()
	if err != nil {
		return 0, err
	}
	if exp < 0 {
		return 0, a.fail("exponent less than 0")
	}
	// Exponentiation by squaring, wrapping around like C's int64.
	result := int64(1)
	for ; exp > 0; exp >>= 1 {
		if exp&1 == 1 {
			result *= base
		}
		base *= base
	}
	return result, nil
}

func (a *arith) unary() (int64, error) {
	a.skip()
	if a.pos >= len(a.src) {
		return 0, a.fail("syntax error: operand expected")
	}
	switch c := a.src[a.pos]; c {
	case '+', '-':
		if strings.HasPrefix(a.src[a.pos:], "++") || strings.HasPrefix(a.src[a.pos:], "--") {
			return 0, a.fail("increment and decrement are not supported")
		}
		a.pos++
		if a.depth++; a.depth > maxNesting {
			return 0, a.fail("expression nested too deeply")
		}
		v, err := a.unary()
		a.depth--
		if c == '-' {
			v = -v
		}
		return v, err
	case '!', '~':
		a.pos++
		if a.depth++; a.depth > maxNesting {
			return 0, a.fail("expression nested too deeply")
		}
		v, err := a.unary()
		a.depth--
		if c == '!' {
			return int64(b2i(v == 0)), err
		}
		return ^v, err
	case '(':
		a.pos++
		v, err := a.ternary()
		if err != nil {
			return 0, err
		}
		a.skip()
		if a.pos >= len(a.src) || a.src[a.pos] != ')' {
			return 0, a.fail("missing ')'")
		}
		a.pos++
		return v, nil
	}
	start := a.pos
	for a.pos < len(a.src) && isNameByte(a.src[a.pos]) {
		a.pos++
	}
	tok := a.src[start:a.pos]
	switch {
	case tok == "":
		return 0, a.fail("syntax error: operand expected")
	case isDigit(tok[0]):
		return parseArithInt(tok, a)
	}
	a.skip()
	if strings.HasPrefix(a.src[a.pos:], "=") && !strings.HasPrefix(a.src[a.pos:], "==") {
		return 0, a.fail("assignment is not supported")
	}
	v := strings.TrimSpace(a.sh.vars[tok])
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		return 0, &arithError{msg: fmt.Sprintf("%s: %s: value is not an integer", tok, v)}
	}
	return n, nil
}

func parseArithInt(tok string, a *arith) (int64, error) {
	// Base 0 reads 0x.. as hexadecimal and 0.. as octal, as sh does.
	n, err := strconv.ParseInt(tok, 0, 64)
	if strings.ContainsAny(tok, "_oObB") && !strings.HasPrefix(tok, "0x") && !strings.HasPrefix(tok, "0X") {
		err = strconv.ErrSyntax
	}
	if err != nil {
		if u, uerr := strconv.ParseUint(tok, 0, 64); uerr == nil && !errors.Is(err, strconv.ErrSyntax) {
			return int64(u), nil
		}
		return 0, a.fail("value too great for base")
	}
	return n, nil
}
