package shellsim

import (
	"strings"
	"unicode/utf8"
)

// next reads the next token into p.tok.
func (p *parser) next() {
	p.skipBlanks()
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = token{kind: tEOF, pos: start, end: start}
		return
	}
	op := func(k tokKind, n int) {
		p.pos += n
		p.tok = token{kind: k, pos: start, end: p.pos}
	}
	switch c := p.src[p.pos]; c {
	case '\n':
		op(tNewline, 1)
		p.readHeredocs()
	case ';':
		if p.peek(1) == ';' {
			op(tDSemi, 2)
		} else {
			op(tSemi, 1)
		}
	case '&':
		switch {
		case p.peek(1) == '&':
			op(tAnd, 2)
		case p.peek(1) == '>' && p.peek(2) == '>':
			p.redirOp(start, -1, "&>>", 3)
		case p.peek(1) == '>':
			p.redirOp(start, -1, "&>", 2)
		default:
			op(tAmp, 1)
		}
	case '|':
		switch p.peek(1) {
		case '|':
			op(tOr, 2)
		case '&':
			p.pos += 2
			p.tok = token{kind: tPipe, pos: start, end: p.pos}
			p.fail("'|&' is not supported; use '2>&1 |'")
		default:
			op(tPipe, 1)
		}
	case '(':
		op(tLParen, 1)
	case ')':
		op(tRParen, 1)
	case '<', '>':
		p.lexRedir(start, -1)
	default:
		if isDigit(c) {
			i := p.pos
			for i < len(p.src) && isDigit(p.src[i]) {
				i++
			}
			if i < len(p.src) && (p.src[i] == '<' || p.src[i] == '>') && i-p.pos <= 2 {
				fd := 0
				for _, d := range p.src[p.pos:i] {
					fd = fd*10 + int(d-'0')
				}
				p.pos = i
				p.lexRedir(start, fd)
				return
			}
		}
		w := p.lexWord()
		p.tok = token{kind: tWord, pos: start, end: p.pos, word: w}
	}
}

func (p *parser) peek(n int) byte {
	if p.pos+n < len(p.src) {
		return p.src[p.pos+n]
	}
	return 0
}

func (p *parser) redirOp(start, fd int, op string, n int) {
	p.pos += n
	p.tok = token{kind: tRedir, pos: start, end: p.pos, fd: fd, op: op}
}

func (p *parser) lexRedir(start, fd int) {
	rest := p.src[p.pos:]
	for _, op := range []string{"<<<", "<<-", "<<", "<&", "<>", ">>", ">&", ">|", "<", ">"} {
		if strings.HasPrefix(rest, op) {
			switch op {
			case "<<<":
				p.fail("here-strings ('<<<') are not supported")
			case "<>":
				p.fail("'<>' redirections are not supported")
			case ">|":
				p.redirOp(start, fd, ">", 2)
				return
			}
			p.redirOp(start, fd, op, len(op))
			return
		}
	}
}

// skipBlanks skips spaces, tabs, line continuations and comments.
func (p *parser) skipBlanks() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\r':
			p.pos++
		case '\\':
			if p.peek(1) != '\n' {
				return
			}
			p.pos += 2
		case '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

func isMeta(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ';', '&', '|', '<', '>', '(', ')':
		return true
	}
	return false
}

// appendLit adds literal text, merging it with a preceding literal of the
// same quoting so that reserved words stay single parts.
func appendLit(parts []wordPart, s string, quoted bool) []wordPart {
	if n := len(parts); n > 0 && parts[n-1].kind == partLit && parts[n-1].quoted == quoted {
		parts[n-1].lit += s
		return parts
	}
	return append(parts, wordPart{kind: partLit, lit: s, quoted: quoted})
}

// lexWord reads an unquoted word up to the next metacharacter.
func (p *parser) lexWord() *word {
	start := p.pos
	var parts []wordPart
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case isMeta(c):
			return &word{parts: parts, raw: p.src[start:p.pos]}
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
			i := p.pos
			for i < len(p.src) && !isMeta(p.src[i]) && !strings.ContainsRune("'\"\\$`", rune(p.src[i])) {
				i++
			}
			parts = appendLit(parts, p.src[p.pos:i], false)
			p.pos = i
		}
	}
	return &word{parts: parts, raw: p.src[start:p.pos]}
}

func (p *parser) lexSingle() wordPart {
	p.pos++ // '
	end := strings.IndexByte(p.src[p.pos:], '\'')
	if end < 0 {
		p.fail("syntax error: unterminated quoted string")
	}
	s := p.src[p.pos : p.pos+end]
	p.pos += end + 1
	return wordPart{kind: partLit, lit: s, quoted: true}
}

// lexEscape handles a backslash at p.pos. Outside double quotes (only is
// "") it quotes any character; inside them it only quotes the characters
// in only and is otherwise literal. Backslash-newline disappears.
func (p *parser) lexEscape(parts []wordPart, only string, quoted bool) []wordPart {
	if p.pos+1 >= len(p.src) {
		p.pos++
		return appendLit(parts, `\`, true)
	}
	c := p.src[p.pos+1]
	switch {
	case c == '\n':
		p.pos += 2
		return parts
	case only == "" || strings.IndexByte(only, c) >= 0:
		_, n := utf8.DecodeRuneInString(p.src[p.pos+1:])
		s := p.src[p.pos+1 : p.pos+1+n]
		p.pos += 1 + n
		return appendLit(parts, s, true)
	default:
		p.pos++
		return appendLit(parts, `\`, quoted)
	}
}

// lexDouble reads a double-quoted string; p.pos is at the opening quote.
func (p *parser) lexDouble() []wordPart {
	p.pos++
	parts := []wordPart{{kind: partLit, quoted: true}}
	for {
		if p.pos >= len(p.src) {
			p.fail("syntax error: unterminated quoted string")
		}
		switch c := p.src[p.pos]; c {
		case '"':
			p.pos++
			return parts
		case '\\':
			parts = p.lexEscape(parts, "$`\"\\", true)
		case '$':
			parts = append(parts, p.lexDollar(true))
		case '`':
			parts = append(parts, p.lexBacktick(true))
		default:
			i := p.pos
			for i < len(p.src) && !strings.ContainsRune("\"\\$`", rune(p.src[i])) {
				i++
			}
			parts = appendLit(parts, p.src[p.pos:i], true)
			p.pos = i
		}
	}
}

// lexDollar reads an expansion; p.pos is at the '$'.
func (p *parser) lexDollar(quoted bool) wordPart {
	p.pos++
	if p.pos >= len(p.src) {
		return wordPart{kind: partLit, lit: "$", quoted: quoted}
	}
	c := p.src[p.pos]
	switch {
	case c == '{':
		p.pos++
		return wordPart{kind: partParam, quoted: quoted, param: p.lexBrace(quoted)}
	case c == '(':
		if p.peek(1) == '(' {
			return wordPart{kind: partArith, quoted: quoted, arith: p.lexArith()}
		}
		p.pos++
		return wordPart{kind: partCmdSubst, quoted: quoted, subst: p.substitution()}
	case isNameByte(c) && !isDigit(c):
		i := p.pos
		for i < len(p.src) && isNameByte(p.src[i]) {
			i++
		}
		name := p.src[p.pos:i]
		p.pos = i
		return wordPart{kind: partParam, quoted: quoted, param: &paramExp{name: name}}
	case isDigit(c) || strings.IndexByte("?$#@*!-", c) >= 0:
		p.pos++
		return wordPart{kind: partParam, quoted: quoted, param: &paramExp{name: string(c)}}
	}
	return wordPart{kind: partLit, lit: "$", quoted: quoted}
}

// lexArith reads the expression of $((...)); p.pos is at the first '('.
// The expression may contain expansions; it is evaluated after them.
func (p *parser) lexArith() *word {
	start := p.pos + 2
	depth := 0
	for i := start; i < len(p.src); i++ {
		switch p.src[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
				continue
			}
			if i+1 < len(p.src) && p.src[i+1] == ')' {
				p.pos = i + 2
				return p.heredocWord(p.src[start:i], false)
			}
			p.fail("syntax error: missing '))' of '$(('")
		}
	}
	p.fail("syntax error: missing '))' of '$(('")
	return nil
}

// substitution parses the list of "$( ... )"; p.pos is after the '('.
func (p *parser) substitution() *list {
	p.enter()
	defer p.leave()
	saved := p.tok
	p.next()
	l := p.list(nil)
	if p.tok.kind != tRParen {
		if p.tok.kind == tEOF {
			p.fail("syntax error: missing ')' of '$('")
		}
		p.unexpected()
	}
	p.tok = saved
	return l
}

// lexBacktick reads `...`; the text between the backquotes, with the
// backslashes that quote \, $ and ` removed, is parsed as a list.
func (p *parser) lexBacktick(quoted bool) wordPart {
	p.pos++
	var b strings.Builder
	for {
		if p.pos >= len(p.src) {
			p.fail("syntax error: unterminated '`'")
		}
		c := p.src[p.pos]
		if c == '`' {
			p.pos++
			break
		}
		if c == '\\' && p.pos+1 < len(p.src) && strings.IndexByte("$`\\", p.src[p.pos+1]) >= 0 {
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
			continue
		}
		b.WriteByte(c)
		p.pos++
	}
	if p.depth+1 > maxNesting {
		p.fail("syntax error: commands nested too deeply")
	}
	l, err := parseAt(b.String(), p.depth+1)
	if err != nil {
		p.fail("%s", err)
	}
	return wordPart{kind: partCmdSubst, quoted: quoted, subst: l}
}

// lexBrace reads ${...}; p.pos is after the '{'.
func (p *parser) lexBrace(quoted bool) *paramExp {
	if p.peek(0) == '#' && p.peek(1) != '}' && p.peek(1) != 0 {
		p.pos++
		name := p.paramName()
		if p.peek(0) != '}' {
			p.fail("bad substitution")
		}
		p.pos++
		return &paramExp{name: name, op: "len"}
	}
	name := p.paramName()
	if p.pos >= len(p.src) {
		p.fail("syntax error: missing '}'")
	}
	if p.src[p.pos] == '}' {
		p.pos++
		return &paramExp{name: name}
	}
	rest := p.src[p.pos:]
	for _, op := range []string{":-", ":=", ":+", ":?", "-", "=", "+", "?", "##", "#", "%%", "%"} {
		if strings.HasPrefix(rest, op) {
			p.pos += len(op)
			return &paramExp{name: name, op: op, arg: p.lexParamArg(quoted)}
		}
	}
	p.fail("bad substitution: only ${VAR}, ${#VAR}, ${VAR:-x}, ${VAR:=x}, ${VAR:+x}, ${VAR:?x}, ${VAR#x} and ${VAR%%x} forms are supported")
	return nil
}

func (p *parser) paramName() string {
	i := p.pos
	if i < len(p.src) && isNameByte(p.src[i]) && !isDigit(p.src[i]) {
		for i < len(p.src) && isNameByte(p.src[i]) {
			i++
		}
	} else if i < len(p.src) && isDigit(p.src[i]) {
		for i < len(p.src) && isDigit(p.src[i]) {
			i++
		}
	} else if i < len(p.src) && strings.IndexByte("?$#@*!-", p.src[i]) >= 0 {
		i++
	}
	if i == p.pos {
		p.fail("bad substitution")
	}
	name := p.src[p.pos:i]
	p.pos = i
	return name
}

// lexParamArg reads the word after the operator of ${NAME<op>word}, up to
// the closing brace. Inside double quotes single quotes are literal.
func (p *parser) lexParamArg(dq bool) *word {
	var parts []wordPart
	for {
		if p.pos >= len(p.src) {
			p.fail("syntax error: missing '}'")
		}
		c := p.src[p.pos]
		switch {
		case c == '}':
			p.pos++
			return &word{parts: parts}
		case c == '\\':
			if dq {
				parts = p.lexEscape(parts, "$`\"\\}", true)
			} else {
				parts = p.lexEscape(parts, "", false)
			}
		case c == '\'' && !dq:
			parts = append(parts, p.lexSingle())
		case c == '"':
			parts = append(parts, p.lexDouble()...)
		case c == '$':
			parts = append(parts, p.lexDollar(dq))
		case c == '`':
			parts = append(parts, p.lexBacktick(dq))
		default:
			i := p.pos
			for i < len(p.src) && !strings.ContainsRune("}\\'\"$`", rune(p.src[i])) {
				i++
			}
			if i == p.pos { // a single quote inside double quotes
				i++
			}
			parts = appendLit(parts, p.src[p.pos:i], dq)
			p.pos = i
		}
	}
}

// readHeredocs reads the bodies of pending here-documents; p.pos is just
// after a newline.
func (p *parser) readHeredocs() {
	pending := p.heredocs
	p.heredocs = nil
	for _, r := range pending {
		delim := unquoteDelim(r.target.raw)
		strip := false
		if r.op == "<<-" {
			strip = true
			r.op = "<<"
		}
		var body strings.Builder
		for p.pos < len(p.src) {
			end := strings.IndexByte(p.src[p.pos:], '\n')
			line := p.src[p.pos:]
			next := len(p.src)
			if end >= 0 {
				line = line[:end]
				next = p.pos + end + 1
			}
			p.pos = next
			if strip {
				line = strings.TrimLeft(line, "\t")
			}
			if line == delim {
				break
			}
			body.WriteString(line)
			body.WriteByte('\n')
		}
		r.heredoc = p.heredocWord(body.String(), r.target.quoted())
	}
}

// flushHeredocs gives empty bodies to here-documents whose line was the
// last one of the script.
func (p *parser) flushHeredocs() {
	for _, r := range p.heredocs {
		r.op = "<<"
		r.heredoc = &word{parts: []wordPart{{kind: partLit, quoted: true}}}
	}
	p.heredocs = nil
}

func (p *parser) heredocWord(body string, literal bool) *word {
	if literal {
		return &word{parts: []wordPart{{kind: partLit, lit: body, quoted: true}}}
	}
	sub := &parser{src: body, depth: p.depth + 1}
	if sub.depth > maxNesting {
		p.fail("syntax error: commands nested too deeply")
	}
	parts := []wordPart{{kind: partLit, quoted: true}}
	for sub.pos < len(sub.src) {
		switch c := sub.src[sub.pos]; c {
		case '\\':
			parts = sub.lexEscape(parts, "$`\\", true)
		case '$':
			parts = append(parts, sub.lexDollar(true))
		case '`':
			parts = append(parts, sub.lexBacktick(true))
		default:
			i := sub.pos
			for i < len(sub.src) && !strings.ContainsRune("\\$`", rune(sub.src[i])) {
				i++
			}
			parts = appendLit(parts, sub.src[sub.pos:i], true)
			sub.pos = i
		}
	}
	return &word{parts: parts}
}

// unquoteDelim removes the quoting from a here-document delimiter.
func unquoteDelim(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '\'', '"':
		case '\\':
			if i+1 < len(raw) {
				i++
				b.WriteByte(raw[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
