package shellsim

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxPrintfWidth bounds field widths and precisions, so that "%999999999d"
// cannot allocate gigabytes.
const maxPrintfWidth = 1 << 16

// expandEscapes interprets backslash escapes as echo -e (echoStyle: octal
// is \0nnn) and printf's format (\nnn) do. stop reports \c, which ends the
// output.
func expandEscapes(s string, echoStyle bool) (out string, stop bool) {
	if !strings.Contains(s, `\`) {
		return s, false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'c':
			return b.String(), true
		case 'e', 'E':
			b.WriteByte(0x1b)
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\':
			b.WriteByte('\\')
		case '"':
			if echoStyle {
				b.WriteString(`\"`)
			} else {
				b.WriteByte('"')
			}
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && strings.IndexByte("0123456789abcdefABCDEF", s[j]) >= 0 {
				j++
			}
			if j == i+1 {
				b.WriteString(`\x`)
				continue
			}
			v, _ := strconv.ParseUint(s[i+1:j], 16, 8)
			b.WriteByte(byte(v))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			start, limit := i, i+3
			if echoStyle {
				if c != '0' {
					b.WriteByte('\\')
					b.WriteByte(c)
					continue
				}
				start, limit = i+1, i+4
			}
			j := start
			for j < len(s) && j < limit && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint("0"+s[start:j], 8, 16)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String(), false
}

// builtinPrintf implements printf FORMAT [ARGS...] with the conversions
// %s %b %q %c %d %i %u %o %x %X %e %f %g and %%, flags, width and precision.
// The format is reused while arguments remain, as in sh.
func builtinPrintf(c *call) (int, error) {
	if len(c.args) == 0 {
		return c.fail(2, "usage: printf format [arguments]"), nil
	}
	format, args := c.args[0], c.args[1:]
	st := 0
	var b strings.Builder
	for {
		used, stop, err := printfOnce(&b, format, &args)
		if err != nil {
			c.out.Write([]byte(b.String()))
			return c.fail(1, "%s", err), nil
		}
		if stop != "" {
			st = c.fail(1, "%s", stop)
		}
		if !used || len(args) == 0 || b.Len() > maxArgBytes {
			break
		}
	}
	_, _ = c.out.Write([]byte(b.String()))
	return st, nil
}

// printfOnce applies format once. used reports whether it consumed an
// argument; warn is a non-fatal error (an invalid number).
func printfOnce(b *strings.Builder, format string, args *[]string) (used bool, warn string, err error) {
	next := func() (string, bool) {
		if len(*args) == 0 {
			return "", false
		}
		a := (*args)[0]
		*args = (*args)[1:]
		used = true
		return a, true
	}
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if ch == '\\' {
			j := i + 1
			if j < len(format) && format[j] >= '0' && format[j] <= '7' {
				for j < len(format) && j < i+4 && format[j] >= '0' && format[j] <= '7' {
					j++
				}
			} else if j < len(format) && format[j] == 'x' {
				for j++; j < len(format) && j < i+4 && strings.IndexByte("0123456789abcdefABCDEF", format[j]) >= 0; j++ {
				}
			} else {
				j = min(j+1, len(format))
			}
			s, stop := expandEscapes(format[i:j], false)
			b.WriteString(s)
			if stop {
				return used, warn, nil
			}
			i = j - 1
			continue
		}
		if ch != '%' {
			b.WriteByte(ch)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ #0", format[j]) >= 0 {
			j++
		}
		flags := format[i+1 : j]
		ws := j
		for j < len(format) && isDigit(format[j]) {
			j++
		}
		width := format[ws:j]
		prec := ""
		if j < len(format) && format[j] == '.' {
			ps := j
			for j++; j < len(format) && isDigit(format[j]); j++ {
			}
			prec = format[ps:j]
		}
		if j >= len(format) {
			return used, warn, fmt.Errorf("%s: missing format character", format[i:])
		}
		for _, n := range []string{width, strings.TrimPrefix(prec, ".")} {
			if v, _ := strconv.Atoi(n); v > maxPrintfWidth || len(n) > 6 {
				return used, warn, fmt.Errorf("%s: width or precision too large", format[i:j+1])
			}
		}
		if b.Len() > maxArgBytes {
			return used, warn, fmt.Errorf("output too large")
		}
		verb := format[j]
		i = j
		spec := "%" + flags + width + prec
		switch verb {
		case '%':
			b.WriteByte('%')
		case 's':
			a, _ := next()
			fmt.Fprintf(b, spec+"s", a)
		case 'b':
			a, _ := next()
			s, stop := expandEscapes(a, true)
			fmt.Fprintf(b, spec+"s", s)
			if stop {
				return used, warn, nil
			}
		case 'q':
			a, _ := next()
			fmt.Fprintf(b, spec+"s", shellQuote(a))
		case 'c':
			a, _ := next()
			if r, n := utf8.DecodeRuneInString(a); n > 0 {
				fmt.Fprintf(b, "%"+flags+width+"s", string(r))
			} else {
				fmt.Fprintf(b, "%"+flags+width+"s", "")
			}
		case 'd', 'i', 'u', 'o', 'x', 'X':
			a, _ := next()
			n, ok := parsePrintfInt(a)
			if !ok {
				warn = fmt.Sprintf("'%s': invalid number", a)
			}
			gv := map[byte]string{'d': "d", 'i': "d", 'u': "d", 'o': "o", 'x': "x", 'X': "X"}[verb]
			fmt.Fprintf(b, spec+gv, n)
		case 'e', 'E', 'f', 'F', 'g', 'G':
			a, _ := next()
			f, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
			if err != nil && a != "" {
				warn = fmt.Sprintf("'%s': invalid number", a)
			}
			if verb == 'F' {
				verb = 'f'
			}
			fmt.Fprintf(b, spec+string(verb), f)
		default:
			return used, warn, fmt.Errorf("%%%c: invalid conversion specification", verb)
		}
	}
	return used, warn, nil
}

// parsePrintfInt parses a printf integer argument: decimal, 0x hex, 0
// octal, or 'c for a character's code.
func parsePrintfInt(a string) (int64, bool) {
	a = strings.TrimSpace(a)
	if a == "" {
		return 0, true
	}
	if a[0] == '\'' || a[0] == '"' {
		r, _ := utf8.DecodeRuneInString(a[1:])
		return int64(r), len(a) > 1
	}
	n, err := strconv.ParseInt(a, 0, 64)
	if err != nil {
		if u, err2 := strconv.ParseUint(a, 0, 64); err2 == nil {
			return int64(u), true
		}
		return 0, false
	}
	return n, true
}
