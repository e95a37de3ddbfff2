package shellsim

import (
	"fmt"
	"strings"
)

// maxNesting bounds how deeply commands, substitutions and here-documents
// may nest, so that a hostile script cannot exhaust the stack of the parser
// or of the interpreter.
const maxNesting = 64

// parseError is a syntax error; its message reads like a shell's.
type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

// parser is a recursive-descent parser working directly on the source text:
// words have enough internal structure (quotes, expansions, command
// substitutions that contain whole lists) that a separate token stream would
// not make it simpler. Errors abort the parse with a panic of *parseError,
// which parseScript turns back into an error.
type parser struct {
	src   string
	pos   int
	tok   token
	depth int

	// pending here-documents, whose bodies start after the next newline.
	heredocs []*redir
}

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tNewline
	tSemi
	tDSemi
	tAnd
	tOr
	tPipe
	tAmp
	tLParen
	tRParen
	tRedir
)

type token struct {
	kind     tokKind
	pos, end int
	word     *word
	fd       int    // tRedir: explicit descriptor, or -1
	op       string // tRedir: the operator
}

// parseScript parses one script line (which may contain newlines).
func parseScript(src string) (l *list, err error) {
	return parseAt(src, 0)
}

func parseAt(src string, depth int) (l *list, err error) {
	p := &parser{src: src, depth: depth}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			l, err = nil, pe
		}
	}()
	p.next()
	l = p.list(nil)
	if p.tok.kind != tEOF {
		p.unexpected()
	}
	p.flushHeredocs()
	return l, nil
}

func (p *parser) fail(format string, args ...any) {
	panic(&parseError{msg: fmt.Sprintf(format, args...)})
}

func (p *parser) unexpected() {
	switch p.tok.kind {
	case tEOF:
		p.fail("syntax error: unexpected end of script")
	case tNewline:
		p.fail("syntax error near unexpected newline")
	default:
		p.fail("syntax error near unexpected token '%s'", p.src[p.tok.pos:p.tok.end])
	}
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxNesting {
		p.fail("syntax error: commands nested too deeply")
	}
}

func (p *parser) leave() { p.depth-- }

// keyword reports whether the current token is one of the reserved words
// kws. Reserved words are only recognised unquoted and in command position,
// which is where the parser calls this.
func (p *parser) keyword(kws ...string) (string, bool) {
	if p.tok.kind != tWord {
		return "", false
	}
	s, ok := p.tok.word.literal()
	if !ok {
		return "", false
	}
	for _, k := range kws {
		if s == k {
			return s, true
		}
	}
	return "", false
}

func (p *parser) expectKeyword(kw string) {
	if _, ok := p.keyword(kw); ok {
		p.next()
		return
	}
	if p.tok.kind == tEOF {
		p.fail("syntax error: unexpected end of script (expecting '%s')", kw)
	}
	p.fail("syntax error near unexpected token '%s' (expecting '%s')", p.src[p.tok.pos:p.tok.end], kw)
}

func (p *parser) skipNewlines() {
	for p.tok.kind == tNewline {
		p.next()
	}
}

// list parses and-or lists separated by ";" or newlines, until the end of
// input, a ")" or one of the reserved words stops.
func (p *parser) list(stops []string) *list {
	l := &list{}
	for {
		p.skipNewlines()
		switch p.tok.kind {
		case tEOF, tRParen, tDSemi:
			return l
		}
		if _, ok := p.keyword(stops...); ok {
			return l
		}
		l.items = append(l.items, p.andOr())
		switch p.tok.kind {
		case tSemi, tNewline:
			p.next()
		case tAmp:
			p.fail("background jobs ('&') are not supported")
		default:
			return l
		}
	}
}

func (p *parser) andOr() *andOr {
	ao := &andOr{first: p.pipeline()}
	for p.tok.kind == tAnd || p.tok.kind == tOr {
		and := p.tok.kind == tAnd
		p.next()
		p.skipNewlines()
		ao.rest = append(ao.rest, andOrItem{and: and, p: p.pipeline()})
	}
	return ao
}

func (p *parser) pipeline() *pipeline {
	pl := &pipeline{}
	for {
		if _, ok := p.keyword("!"); !ok {
			break
		}
		pl.negate = !pl.negate
		p.next()
	}
	pl.cmds = append(pl.cmds, p.command())
	for p.tok.kind == tPipe {
		p.next()
		p.skipNewlines()
		pl.cmds = append(pl.cmds, p.command())
	}
	return pl
}

func (p *parser) command() command {
	p.enter()
	defer p.leave()
	if p.tok.kind == tLParen {
		p.next()
		body := p.list(nil)
		if p.tok.kind != tRParen {
			p.unexpected()
		}
		p.next()
		return &groupCmd{subshell: true, body: body, redirs: p.redirs()}
	}
	if kw, ok := p.keyword("if", "for", "while", "until", "{", "[[", "case", "select", "function",
		"then", "elif", "else", "fi", "do", "done", "}", "esac", "!"); ok {
		switch kw {
		case "if":
			return p.ifCmd()
		case "for":
			return p.forCmd()
		case "while", "until":
			return p.whileCmd(kw == "until")
		case "{":
			p.next()
			body := p.list([]string{"}"})
			p.expectKeyword("}")
			return &groupCmd{body: body, redirs: p.redirs()}
		case "[[":
			return p.testCmd()
		case "case", "select", "function":
			p.fail("'%s' is not supported", kw)
		default:
			p.unexpected()
		}
	}
	return p.simple()
}

func (p *parser) ifCmd() *ifCmd {
	c := &ifCmd{}
	p.next() // if
	for {
		cond := p.list([]string{"then"})
		if len(cond.items) == 0 {
			p.unexpected()
		}
		p.expectKeyword("then")
		body := p.list([]string{"elif", "else", "fi"})
		if len(body.items) == 0 {
			p.unexpected()
		}
		c.conds = append(c.conds, cond)
		c.bodies = append(c.bodies, body)
		kw, _ := p.keyword("elif", "else")
		if kw == "elif" {
			p.next()
			continue
		}
		if kw == "else" {
			p.next()
			c.els = p.list([]string{"fi"})
			if len(c.els.items) == 0 {
				p.unexpected()
			}
		}
		p.expectKeyword("fi")
		c.redirs = p.redirs()
		return c
	}
}

func (p *parser) forCmd() *forCmd {
	p.next() // for
	name := ""
	if p.tok.kind == tWord {
		name, _ = p.tok.word.literal()
	}
	if !validName(name) {
		p.fail("syntax error: bad for loop variable")
	}
	c := &forCmd{name: name, words: []*word{}}
	p.next()
	p.skipNewlines()
	if _, ok := p.keyword("in"); ok {
		p.next()
		for p.tok.kind == tWord {
			c.words = append(c.words, p.tok.word)
			p.next()
		}
	} else {
		c.words = nil // "for x; do" iterates over the (empty) positional parameters
	}
	if p.tok.kind == tSemi || p.tok.kind == tNewline {
		p.next()
	}
	p.skipNewlines()
	p.expectKeyword("do")
	c.body = p.list([]string{"done"})
	if len(c.body.items) == 0 {
		p.unexpected()
	}
	p.expectKeyword("done")
	c.redirs = p.redirs()
	return c
}

func (p *parser) whileCmd(until bool) *whileCmd {
	p.next() // while / until
	c := &whileCmd{until: until}
	c.cond = p.list([]string{"do"})
	if len(c.cond.items) == 0 {
		p.unexpected()
	}
	p.expectKeyword("do")
	c.body = p.list([]string{"done"})
	if len(c.body.items) == 0 {
		p.unexpected()
	}
	p.expectKeyword("done")
	c.redirs = p.redirs()
	return c
}

func (p *parser) testCmd() *testCmd {
	p.next() // [[
	c := &testCmd{}
	for {
		switch p.tok.kind {
		case tWord:
			if s, ok := p.tok.word.literal(); ok && s == "]]" {
				p.next()
				c.redirs = p.redirs()
				return c
			}
			if s, ok := p.tok.word.literal(); ok && s == "!" {
				c.items = append(c.items, testItem{op: "!"})
			} else {
				c.items = append(c.items, testItem{word: p.tok.word})
			}
			if s, ok := p.tok.word.literal(); ok && s == "=~" {
				// The regular expression is one word in which ( ) | < >
				// are ordinary characters, as in bash.
				c.items = append(c.items, testItem{word: p.regexWord()})
			}
		case tAnd:
			c.items = append(c.items, testItem{op: "&&"})
		case tOr:
			c.items = append(c.items, testItem{op: "||"})
		case tLParen:
			c.items = append(c.items, testItem{op: "("})
		case tRParen:
			c.items = append(c.items, testItem{op: ")"})
		case tRedir:
			if p.tok.fd != -1 || (p.tok.op != "<" && p.tok.op != ">") {
				p.unexpected()
			}
			c.items = append(c.items, testItem{op: p.tok.op})
		case tEOF, tNewline, tSemi:
			p.fail("syntax error: missing ']]'")
		default:
			p.fail("syntax error near unexpected token '%s' in [[ ]] (quote regular expressions)", p.src[p.tok.pos:p.tok.end])
		}
		p.next()
	}
}

// regexWord reads the right-hand side of =~ in [[ ]]; p.pos is just after
// the "=~" token. It ends at a blank outside parentheses.
func (p *parser) regexWord() *word {
	p.skipBlanks()
	start := p.pos
	depth := 0
	var parts []wordPart
loop:
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';':
			if depth == 0 {
				break loop
			}
			parts = appendLit(parts, string(c), false)
			p.pos++
		case c == '&' && depth == 0 && p.peek(1) == '&':
			break loop
		case c == ')' && depth == 0:
			break loop
		case c == '\'':
			parts = append(parts, p.lexSingle())
		case c == '"':
			parts = append(parts, p.lexDouble()...)
		case c == '\\':
			parts = p.lexEscape(parts, "", false)
		case c == '$':
			parts = append(parts, p.lexDollar(false))
		case c == '`':
			parts = append(parts, p.lexBacktick(false))
		default:
			if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
			parts = appendLit(parts, string(c), false)
			p.pos++
		}
	}
	if p.pos == start {
		p.fail("syntax error: expected a regular expression after '=~'")
	}
	return &word{parts: parts, raw: p.src[start:p.pos]}
}

func (p *parser) simple() *simpleCmd {
	c := &simpleCmd{}
	for {
		switch p.tok.kind {
		case tWord:
			if len(c.args) == 0 {
				if a, ok := splitAssign(p.tok.word); ok {
					c.assigns = append(c.assigns, a)
					p.next()
					if p.tok.kind == tLParen && len(a.value.parts) == 0 {
						p.fail("arrays are not supported")
					}
					continue
				}
			}
			c.args = append(c.args, p.tok.word)
			p.next()
		case tRedir:
			c.redirs = append(c.redirs, p.redir())
		default:
			if len(c.args) == 0 && len(c.assigns) == 0 && len(c.redirs) == 0 {
				p.unexpected()
			}
			if p.tok.kind == tLParen && len(c.args) == 1 && len(c.assigns) == 0 {
				p.fail("function definitions are not supported")
			}
			return c
		}
	}
}

func (p *parser) redirs() []*redir {
	var rs []*redir
	for p.tok.kind == tRedir {
		rs = append(rs, p.redir())
	}
	return rs
}

func (p *parser) redir() *redir {
	t := p.tok
	p.next()
	if p.tok.kind != tWord {
		if p.tok.kind == tEOF || p.tok.kind == tNewline {
			p.fail("syntax error: expected a file name after '%s'", t.op)
		}
		p.unexpected()
	}
	r := &redir{fd: t.fd, op: t.op, target: p.tok.word}
	if r.fd < 0 {
		switch t.op {
		case "<", "<&", "<<", "<<-":
			r.fd = 0
		default:
			r.fd = 1
		}
	}
	if t.op == "<<" || t.op == "<<-" {
		p.heredocs = append(p.heredocs, r)
	}
	p.next()
	return r
}

// splitAssign recognises NAME=value words.
func splitAssign(w *word) (assign, bool) {
	if len(w.parts) == 0 || w.parts[0].kind != partLit || w.parts[0].quoted {
		return assign{}, false
	}
	first := w.parts[0].lit
	eq := strings.IndexByte(first, '=')
	if eq <= 0 {
		return assign{}, false
	}
	name, appendTo := strings.CutSuffix(first[:eq], "+")
	if !validName(name) {
		return assign{}, false
	}
	value := &word{}
	if rest := first[eq+1:]; rest != "" {
		value.parts = append(value.parts, wordPart{kind: partLit, lit: rest})
	}
	value.parts = append(value.parts, w.parts[1:]...)
	return assign{name: name, value: value, appendTo: appendTo}, true
}

func validName(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isNameByte(c byte) bool { return c == '_' || isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z' }
