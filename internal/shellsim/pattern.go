package shellsim

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Patterns are sh patterns ("*", "?", "[...]") in which a backslash quotes
// the next character; quoted text from the script is escaped before it gets
// here (see escapePattern).

// hasMeta reports whether pat contains an unescaped pattern character.
func hasMeta(pat string) bool {
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// escapePattern quotes every pattern character of s.
func escapePattern(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// unescapePattern removes the backslashes of a pattern without
// metacharacters.
func unescapePattern(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// matcher matches patterns. Matching a long string against a pattern with
// many stars takes time proportional to their product, so the matcher checks
// the run's context every few thousand steps and gives up (reporting no
// match) once it has ended; the interpreter then stops at its next check.
type matcher struct {
	sh    *shell
	steps int
	dead  bool
}

func (sh *shell) matcher() *matcher { return &matcher{sh: sh} }

func (m *matcher) tick() bool {
	m.steps++
	if m.steps&0xfff == 0 && m.sh.ctx.Err() != nil {
		m.dead = true
	}
	return !m.dead
}

// match reports whether the whole of s matches pat. "*" matches any
// string, "/" included (pathname expansion matches one component at a
// time).
func (m *matcher) match(pat, s string) bool {
	px, sx := 0, 0
	starPx, starSx := -1, -1
	for px < len(pat) || sx < len(s) {
		if !m.tick() {
			return false
		}
		if px < len(pat) {
			switch c := pat[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += n
					continue
				}
			case '[':
				if sx < len(s) {
					r, n := utf8.DecodeRuneInString(s[sx:])
					if ok, width, valid := matchClass(pat[px:], r); valid {
						if ok {
							px += width
							sx += n
							continue
						}
						break
					}
				}
				if sx < len(s) && s[sx] == '[' {
					px++
					sx++
					continue
				}
			default:
				if c == '\\' && px+1 < len(pat) {
					px++
				}
				pr, pn := utf8.DecodeRuneInString(pat[px:])
				if sx < len(s) {
					if r, n := utf8.DecodeRuneInString(s[sx:]); r == pr && n == pn {
						px += pn
						sx += n
						continue
					}
				}
			}
		}
		if starPx >= 0 && starSx < len(s) {
			_, n := utf8.DecodeRuneInString(s[starSx:])
			starSx += n
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}

// matchClass matches r against the bracket expression at the start of pat.
// valid is false when the expression has no closing bracket, in which case
// "[" is an ordinary character.
func matchClass(pat string, r rune) (ok bool, width int, valid bool) {
	i := 1
	negate := false
	if i < len(pat) && (pat[i] == '!' || pat[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pat) {
		if pat[i] == ']' && !first {
			return ok != negate, i + 1, true
		}
		first = false
		if strings.HasPrefix(pat[i:], "[:") {
			if end := strings.Index(pat[i+2:], ":]"); end >= 0 {
				if classMatches(pat[i+2:i+2+end], r) {
					ok = true
				}
				i += end + 4
				continue
			}
		}
		if pat[i] == '\\' && i+1 < len(pat) {
			i++
		}
		lo, n := utf8.DecodeRuneInString(pat[i:])
		i += n
		hi := lo
		if i+1 < len(pat) && pat[i] == '-' && pat[i+1] != ']' {
			i++
			if pat[i] == '\\' && i+1 < len(pat) {
				i++
			}
			hi, n = utf8.DecodeRuneInString(pat[i:])
			i += n
		}
		if lo <= r && r <= hi {
			ok = true
		}
	}
	return false, 0, false
}

func classMatches(class string, r rune) bool {
	switch class {
	case "alpha":
		return unicode.IsLetter(r)
	case "digit":
		return r >= '0' && r <= '9'
	case "alnum":
		return unicode.IsLetter(r) || unicode.IsDigit(r)
	case "upper":
		return unicode.IsUpper(r)
	case "lower":
		return unicode.IsLower(r)
	case "space":
		return unicode.IsSpace(r)
	case "blank":
		return r == ' ' || r == '\t'
	case "punct":
		return unicode.IsPunct(r) || unicode.IsSymbol(r)
	case "xdigit":
		return strings.ContainsRune("0123456789abcdefABCDEF", r)
	case "cntrl":
		return unicode.IsControl(r)
	case "print":
		return unicode.IsPrint(r)
	case "graph":
		return unicode.IsGraphic(r) && !unicode.IsSpace(r)
	}
	return false
}
