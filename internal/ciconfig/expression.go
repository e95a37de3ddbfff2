package ciconfig

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// maxExpressionTokens matches GitLab's lexer limit; it also bounds the
// parser's recursion, so hostile input cannot exhaust the stack.
const maxExpressionTokens = 100

// maxCachedPatterns bounds the per-expression cache of regexps read from
// variables (`$REF =~ $PATTERN`); the values come from API callers, so the
// cache must not grow without limit.
const maxCachedPatterns = 32

// Expression is a compiled `rules:if` / `only:variables` condition. It is
// immutable after ParseExpression (apart from an internal, locked cache) and
// safe for concurrent use.
//
// Semantics, following GitLab's "CI/CD variable expressions" docs:
//
//   - `$VAR` (or `${VAR}`) on its own is true when the variable is defined and
//     not empty. The same rule applies to a bare variable inside && and ||
//     (GitLab's implementation treats an empty variable as true there, which
//     its own docs call a bug; this package does not copy it).
//   - `==` / `!=` compare values. An undefined variable equals `null` and only
//     `null` (or another undefined variable); it does not equal `""`. A variable
//     defined as empty equals `""` but not `null`. The docs list
//     `$VAR == null` as "undefined" and `$VAR == ""` as "defined but empty".
//   - `=~` / `!~` match with a `/pattern/flags` literal, or with a variable or
//     string holding such a literal. An undefined left side is matched as "".
//     A right side that is undefined or not a valid pattern makes `=~` false
//     and `!~` true.
//   - `&&` binds tighter than `||`; parentheses group.
type Expression struct {
	src   string
	root  exprNode
	cache *patternCache // nil unless a right-hand side of =~ is dynamic
}

// ParseExpression compiles a `rules:if` or `only:variables` expression. Regexps
// are compiled here, so Eval does no parsing.
func ParseExpression(s string) (*Expression, error) {
	toks, err := lexExpression(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("invalid expression syntax: empty expression")
	}
	p := &exprParser{toks: toks, src: s}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, p.errorf("unexpected %s", p.toks[p.pos].describe())
	}
	e := &Expression{src: s, root: root}
	if p.dynamicPatterns {
		e.cache = &patternCache{m: make(map[string]*regexp.Regexp)}
		e.root = bindCache(e.root, e.cache)
	}
	return e, nil
}

// String returns the expression as written.
func (e *Expression) String() string { return e.src }

// Eval evaluates the expression against vars. A missing key is an undefined
// variable; a key mapped to "" is a defined, empty variable.
func (e *Expression) Eval(vars map[string]string) bool {
	return e.eval(mapLookup(vars))
}

func (e *Expression) eval(vars varLookup) bool {
	return e.root.eval(vars)
}

// varLookup resolves variable names; Evaluate implements it with layered
// scopes so no merged map is built per job.
type varLookup interface {
	lookup(name string) (string, bool)
}

type mapLookup map[string]string

func (m mapLookup) lookup(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}

type exprNode interface {
	eval(vars varLookup) bool
}

type operandKind uint8

const (
	operandVariable operandKind = iota
	operandString
	operandNull
)

// operand is a variable, a string literal or null.
type operand struct {
	kind operandKind
	text string // variable name or string contents
}

// value returns the operand's value and whether it is defined (not null).
func (o operand) value(vars varLookup) (string, bool) {
	switch o.kind {
	case operandVariable:
		return vars.lookup(o.text)
	case operandString:
		return o.text, true
	default:
		return "", false
	}
}

type truthNode struct{ op operand }

func (n truthNode) eval(vars varLookup) bool {
	v, ok := n.op.value(vars)
	return ok && v != ""
}

type equalNode struct {
	left, right operand
	negate      bool
}

func (n equalNode) eval(vars varLookup) bool {
	lv, lok := n.left.value(vars)
	rv, rok := n.right.value(vars)
	equal := lok == rok && (!lok || lv == rv)
	return equal != n.negate
}

type matchNode struct {
	left    operand
	pattern *regexp.Regexp // static pattern, or nil when dynamic is used
	dynamic *operand       // variable holding "/pattern/flags"
	cache   *patternCache
	negate  bool
}

func (n *matchNode) eval(vars varLookup) bool {
	re := n.pattern
	if n.dynamic != nil {
		lit, ok := n.dynamic.value(vars)
		if ok {
			re = n.cache.get(lit)
		}
	}
	if re == nil {
		return n.negate
	}
	text, _ := n.left.value(vars)
	return re.MatchString(text) != n.negate
}

type andNode []exprNode

func (n andNode) eval(vars varLookup) bool {
	for _, c := range n {
		if !c.eval(vars) {
			return false
		}
	}
	return true
}

type orNode []exprNode

func (n orNode) eval(vars varLookup) bool {
	for _, c := range n {
		if c.eval(vars) {
			return true
		}
	}
	return false
}

// bindCache gives every dynamic match node the expression's cache.
func bindCache(n exprNode, c *patternCache) exprNode {
	switch t := n.(type) {
	case *matchNode:
		if t.dynamic != nil {
			t.cache = c
		}
	case andNode:
		for i := range t {
			t[i] = bindCache(t[i], c)
		}
	case orNode:
		for i := range t {
			t[i] = bindCache(t[i], c)
		}
	}
	return n
}

// patternCache remembers regexps compiled from variable values, because the
// same trigger variable is typically matched on every pipeline.
type patternCache struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp // nil value: not a valid pattern
}

func (c *patternCache) get(lit string) *regexp.Regexp {
	c.mu.Lock()
	re, ok := c.m[lit]
	c.mu.Unlock()
	if ok {
		return re
	}
	if isPatternLiteral(lit) {
		re, _ = compilePattern(lit)
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedPatterns {
		clear(c.m)
	}
	c.m[lit] = re
	c.mu.Unlock()
	return re
}

type tokenKind uint8

const (
	tokVariable tokenKind = iota
	tokString
	tokNull
	tokPattern
	tokEquals
	tokNotEquals
	tokMatches
	tokNotMatches
	tokAnd
	tokOr
	tokOpen
	tokClose
)

type token struct {
	kind tokenKind
	text string // variable name, string contents or pattern literal
	pos  int
	re   *regexp.Regexp
}

func (t token) describe() string {
	switch t.kind {
	case tokVariable:
		return "variable $" + t.text
	case tokString:
		return fmt.Sprintf("string %q", t.text)
	case tokNull:
		return "null"
	case tokPattern:
		return "pattern " + t.text
	case tokOpen:
		return "'('"
	case tokClose:
		return "')'"
	case tokEquals:
		return "operator =="
	case tokNotEquals:
		return "operator !="
	case tokMatches:
		return "operator =~"
	case tokNotMatches:
		return "operator !~"
	case tokAnd:
		return "operator &&"
	default:
		return "operator ||"
	}
}

func isNameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func lexExpression(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		var tok token
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '$':
			if i+1 < len(s) && s[i+1] == '{' {
				j := i + 2
				for j < len(s) && isNameChar(s[j]) {
					j++
				}
				if j == i+2 || j >= len(s) || s[j] != '}' {
					return nil, lexError(s, start, "malformed ${VARIABLE}")
				}
				tok = token{kind: tokVariable, text: s[i+2 : j]}
				i = j + 1
			} else {
				j := i + 1
				for j < len(s) && isNameChar(s[j]) {
					j++
				}
				if j == i+1 {
					return nil, lexError(s, start, "'$' without a variable name")
				}
				tok = token{kind: tokVariable, text: s[i+1 : j]}
				i = j
			}
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, lexError(s, start, "unterminated string")
			}
			tok = token{kind: tokString, text: s[i+1 : i+1+j]}
			i += j + 2
		case c == '/':
			j := i + 1
			for j < len(s) && s[j] != '/' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, lexError(s, start, "unterminated pattern")
			}
			k := j + 1
			for k < len(s) && isPatternFlag(s[k]) {
				k++
			}
			re, err := compilePattern(s[i:k])
			if err != nil {
				return nil, lexError(s, start, err.Error())
			}
			tok = token{kind: tokPattern, text: s[i:k], re: re}
			i = k
		case c == '(':
			tok = token{kind: tokOpen}
			i++
		case c == ')':
			tok = token{kind: tokClose}
			i++
		case strings.HasPrefix(s[i:], "=="):
			tok, i = token{kind: tokEquals}, i+2
		case strings.HasPrefix(s[i:], "!="):
			tok, i = token{kind: tokNotEquals}, i+2
		case strings.HasPrefix(s[i:], "=~"):
			tok, i = token{kind: tokMatches}, i+2
		case strings.HasPrefix(s[i:], "!~"):
			tok, i = token{kind: tokNotMatches}, i+2
		case strings.HasPrefix(s[i:], "&&"):
			tok, i = token{kind: tokAnd}, i+2
		case strings.HasPrefix(s[i:], "||"):
			tok, i = token{kind: tokOr}, i+2
		case strings.HasPrefix(s[i:], "null") && (i+4 == len(s) || !isNameChar(s[i+4])):
			tok, i = token{kind: tokNull}, i+4
		default:
			return nil, lexError(s, start, fmt.Sprintf("unexpected character %q", c))
		}
		tok.pos = start
		toks = append(toks, tok)
		if len(toks) > maxExpressionTokens {
			return nil, fmt.Errorf("invalid expression syntax: more than %d tokens", maxExpressionTokens)
		}
	}
	return toks, nil
}

func lexError(s string, pos int, msg string) error {
	return fmt.Errorf("invalid expression syntax at offset %d of %q: %s", pos, s, msg)
}

type exprParser struct {
	toks            []token
	pos             int
	src             string
	dynamicPatterns bool
}

func (p *exprParser) errorf(format string, args ...any) error {
	return lexError(p.src, p.offset(), fmt.Sprintf(format, args...))
}

func (p *exprParser) offset() int {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].pos
	}
	return len(p.src)
}

func (p *exprParser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *exprParser) parseOr() (exprNode, error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	nodes := orNode{first}
	for {
		t, ok := p.peek()
		if !ok || t.kind != tokOr {
			break
		}
		p.pos++
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return nodes, nil
}

func (p *exprParser) parseAnd() (exprNode, error) {
	first, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	nodes := andNode{first}
	for {
		t, ok := p.peek()
		if !ok || t.kind != tokAnd {
			break
		}
		p.pos++
		n, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return nodes, nil
}

func (p *exprParser) parsePrimary() (exprNode, error) {
	t, ok := p.peek()
	if !ok {
		return nil, p.errorf("expression ends where a value was expected")
	}
	if t.kind == tokOpen {
		p.pos++
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c, ok := p.peek(); !ok || c.kind != tokClose {
			return nil, p.errorf("missing ')'")
		}
		p.pos++
		return n, nil
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	op, ok := p.peek()
	if !ok {
		return truthNode{op: left}, nil
	}
	switch op.kind {
	case tokEquals, tokNotEquals:
		p.pos++
		right, err := p.operand()
		if err != nil {
			return nil, err
		}
		return equalNode{left: left, right: right, negate: op.kind == tokNotEquals}, nil
	case tokMatches, tokNotMatches:
		p.pos++
		return p.matchRight(left, op.kind == tokNotMatches)
	default:
		return truthNode{op: left}, nil
	}
}

func (p *exprParser) operand() (operand, error) {
	t, ok := p.peek()
	if !ok {
		return operand{}, p.errorf("expression ends where a value was expected")
	}
	switch t.kind {
	case tokVariable:
		p.pos++
		return operand{kind: operandVariable, text: t.text}, nil
	case tokString:
		p.pos++
		return operand{kind: operandString, text: t.text}, nil
	case tokNull:
		p.pos++
		return operand{kind: operandNull}, nil
	default:
		return operand{}, p.errorf("unexpected %s where a variable, string or null was expected", t.describe())
	}
}

func (p *exprParser) matchRight(left operand, negate bool) (exprNode, error) {
	t, ok := p.peek()
	if !ok {
		return nil, p.errorf("expression ends where a pattern was expected")
	}
	switch t.kind {
	case tokPattern:
		p.pos++
		return &matchNode{left: left, pattern: t.re, negate: negate}, nil
	case tokVariable:
		p.pos++
		p.dynamicPatterns = true
		return &matchNode{left: left, dynamic: &operand{kind: operandVariable, text: t.text}, negate: negate}, nil
	case tokString:
		re, err := compilePattern(t.text)
		if err != nil {
			return nil, p.errorf("the string right of =~ or !~ is not a /pattern/: %v", err)
		}
		p.pos++
		return &matchNode{left: left, pattern: re, negate: negate}, nil
	default:
		return nil, p.errorf("unexpected %s where a pattern was expected", t.describe())
	}
}
