package ciconfig

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// compilePattern compiles a GitLab `/source/flags` literal, as written in
// `rules:if` (`$REF =~ /^release/i`), in `only:refs` and in variables used as
// the right-hand side of `=~`.
//
// GitLab evaluates these with RE2, so Go's regexp (also RE2 syntax) accepts the
// same patterns. A few Ruby spellings that users copy from Ruby docs are
// translated (\h, \H, \Z, \/). Flags: i (case-insensitive), m (Ruby's
// "dot matches newline", Go's s), s and U; anything else is rejected.
func compilePattern(lit string) (*regexp.Regexp, error) {
	if len(lit) < 3 || lit[0] != '/' {
		return nil, errors.New("a pattern must be written /regexp/")
	}
	end := strings.LastIndexByte(lit, '/')
	if end <= 1 {
		return nil, errors.New("a pattern must be written /regexp/ with a non-empty regexp")
	}
	src, flags := lit[1:end], lit[end+1:]
	var goFlags strings.Builder
	for _, f := range flags {
		switch f {
		case 'i', 's', 'U':
			if !strings.ContainsRune(goFlags.String(), f) {
				goFlags.WriteRune(f)
			}
		case 'm':
			if !strings.ContainsRune(goFlags.String(), 's') {
				goFlags.WriteRune('s')
			}
		default:
			return nil, fmt.Errorf("unsupported regexp flag %q", f)
		}
	}
	expr := translateRubyRegexp(src)
	if goFlags.Len() > 0 {
		expr = "(?" + goFlags.String() + ")" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", lit, err)
	}
	return re, nil
}

// isPatternLiteral reports whether s looks like `/source/flags`, the form
// GitLab recognises as a regular expression in only/except and in variables.
func isPatternLiteral(s string) bool {
	if len(s) < 3 || s[0] != '/' {
		return false
	}
	end := strings.LastIndexByte(s, '/')
	if end <= 1 {
		return false
	}
	for _, f := range s[end+1:] {
		if !isPatternFlag(byte(f)) {
			return false
		}
	}
	return true
}

// isPatternFlag reports whether c is a flag GitLab accepts after a pattern.
func isPatternFlag(c byte) bool {
	return c == 'i' || c == 'm' || c == 's' || c == 'U'
}

// translateRubyRegexp rewrites the Ruby-only escapes that have a direct RE2
// equivalent and leaves everything else to regexp.Compile.
func translateRubyRegexp(src string) string {
	if !strings.Contains(src, `\`) {
		return src
	}
	var b strings.Builder
	b.Grow(len(src) + 8)
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			next := src[i+1]
			i++
			switch {
			case next == 'h' && inClass:
				b.WriteString("0-9a-fA-F")
			case next == 'h':
				b.WriteString("[0-9a-fA-F]")
			case next == 'H' && !inClass:
				b.WriteString("[^0-9a-fA-F]")
			case next == 'Z' && !inClass:
				b.WriteString(`(?:\n?\z)`)
			case next == '/':
				b.WriteByte('/')
			default:
				b.WriteByte('\\')
				b.WriteByte(next)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal, not the end of the class.
			if i+1 < len(src) && src[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(src) && src[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
