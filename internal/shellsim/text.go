package shellsim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// maxLineBytes bounds one line read by grep, head and tail.
const maxLineBytes = 1 << 20

// eachLine calls fn for every line of r (without its newline).
func eachLine(r io.Reader, fn func(line string) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	sc.Split(scanLines)
	for sc.Scan() {
		if !fn(sc.Text()) {
			return nil
		}
	}
	return sc.Err()
}

// scanLines splits at newlines like bufio.ScanLines but keeps carriage
// returns, as head, tail and grep do.
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// builtinGrep supports grep [-qvicnloxwFEsH] [-e PATTERN] PATTERN [FILE...].
// Basic regular expressions are translated to Go's syntax; Go's engine runs
// in linear time, so hostile patterns cannot stall the run.
func builtinGrep(c *call) (int, error) {
	opts, args, err := getopt(c.args, "qvicnloxwFEsHhrR", "e", map[string]byte{
		"quiet": 'q', "silent": 'q', "invert-match": 'v', "ignore-case": 'i', "count": 'c',
		"line-number": 'n', "files-with-matches": 'l', "line-regexp": 'x', "word-regexp": 'w',
		"fixed-strings": 'F', "extended-regexp": 'E', "no-messages": 's', "regexp": 'e', "only-matching": 'o',
	})
	if err != nil {
		return c.fail(2, "%s", err), nil
	}
	pat, hasPat := opts['e']
	if !hasPat {
		if len(args) == 0 {
			return c.fail(2, "usage: grep [OPTION]... PATTERNS [FILE]..."), nil
		}
		pat, args = args[0], args[1:]
	}
	switch {
	case has(opts, "F"):
		pat = regexp.QuoteMeta(pat)
	case !has(opts, "E"):
		pat = breToERE(pat)
	}
	if has(opts, "w") {
		pat = `\b(?:` + pat + `)\b`
	}
	if has(opts, "x") {
		pat = `^(?:` + pat + `)$`
	}
	if has(opts, "i") {
		pat = `(?i)` + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return c.fail(2, "invalid regular expression: %s", err), nil
	}
	if len(args) == 0 {
		args = []string{"-"}
	}
	quiet, invert := has(opts, "q"), has(opts, "v")
	found, st := false, 1
	for _, a := range args {
		r, done, ok := c.input(a)
		if !ok {
			st = 2
			continue
		}
		count, n := 0, 0
		err := eachLine(r, func(line string) bool {
			n++
			if re.MatchString(line) == invert {
				return true
			}
			found = true
			count++
			switch {
			case quiet || has(opts, "l"):
				return false
			case has(opts, "c"):
			default:
				prefix := ""
				if len(args) > 1 {
					prefix = a + ":"
				}
				if has(opts, "n") {
					prefix += strconv.Itoa(n) + ":"
				}
				if has(opts, "o") && !invert {
					for _, m := range re.FindAllString(line, -1) {
						if m != "" { // grep -o never prints empty matches
							fmt.Fprintf(c.out, "%s%s\n", prefix, m)
						}
					}
				} else {
					fmt.Fprintf(c.out, "%s%s\n", prefix, line)
				}
			}
			return true
		})
		done()
		if err != nil {
			if ctxErr := c.sh.ctx.Err(); ctxErr != nil {
				return 1, ctxErr
			}
			st = c.fail(2, "%s: %s", a, describe(err))
		}
		if quiet && found {
			return 0, nil
		}
		switch {
		case has(opts, "l") && count > 0:
			fmt.Fprintln(c.out, a)
		case has(opts, "c") && !quiet:
			if len(args) > 1 {
				fmt.Fprintf(c.out, "%s:%d\n", a, count)
			} else {
				fmt.Fprintln(c.out, count)
			}
		}
	}
	if found && st != 2 {
		return 0, nil
	}
	return st, nil
}

// breToERE turns a POSIX basic regular expression into Go syntax: in a
// BRE, + ? | ( ) { } are literal and their backslashed forms are operators.
func breToERE(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		ch := p[i]
		switch {
		case ch == '\\' && i+1 < len(p) && strings.IndexByte("+?|(){}", p[i+1]) >= 0:
			b.WriteByte(p[i+1])
			i++
		case ch == '\\' && i+1 < len(p):
			b.WriteByte(ch)
			b.WriteByte(p[i+1])
			i++
		case strings.IndexByte("+?|(){}", ch) >= 0:
			b.WriteByte('\\')
			b.WriteByte(ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

func builtinWc(c *call) (int, error) {
	opts, args, err := getopt(c.args, "lwcm", "", map[string]byte{"lines": 'l', "words": 'w', "bytes": 'c', "chars": 'm'})
	if err != nil {
		return c.fail(1, "%s", err), nil
	}
	if !has(opts, "lwcm") {
		opts['l'], opts['w'], opts['c'] = "", "", ""
	}
	stdin := len(args) == 0
	if stdin {
		args = []string{"-"}
	}
	st := 0
	type row struct {
		counts [4]int64 // lines, words, characters, bytes
		name   string
	}
	var rows []row
	var total row
	total.name = "total"
	for _, a := range args {
		r, done, ok := c.input(a)
		if !ok {
			st = 1
			continue
		}
		var counts [4]int64
		br := bufio.NewReader(r)
		inWord := false
		for {
			ch, size, err := br.ReadRune()
			if err != nil {
				break
			}
			counts[3] += int64(size)
			counts[2]++
			if ch == '\n' {
				counts[0]++
			}
			space := ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f'
			if !space && !inWord {
				counts[1]++
			}
			inWord = !space
		}
		done()
		if err := c.sh.ctx.Err(); err != nil {
			return 1, err
		}
		for i := range total.counts {
			total.counts[i] += counts[i]
		}
		rows = append(rows, row{counts, a})
	}
	if len(rows) > 1 {
		rows = append(rows, total)
	}
	// Column widths as GNU wc: the digits of the total size for files,
	// 7 for standard input unless a single number is printed.
	var fields []int
	for i, f := range "lwmc" {
		if _, ok := opts[byte(f)]; ok {
			fields = append(fields, i)
		}
	}
	width := len(strconv.FormatInt(total.counts[3], 10))
	if stdin {
		width = 1
		if len(fields) > 1 {
			width = 7
		}
	}
	for _, r := range rows {
		var parts []string
		for _, i := range fields {
			parts = append(parts, fmt.Sprintf("%*d", width, r.counts[i]))
		}
		if !stdin {
			parts = append(parts, r.name)
		}
		fmt.Fprintln(c.out, strings.Join(parts, " "))
	}
	return st, nil
}

// builtinHeadTail implements head and tail with -n N, -N, -c N and (tail)
// -n +N.
func builtinHeadTail(c *call) (int, error) {
	n, from, bytesMode := 10, false, false
	var args []string
	for i := 0; i < len(c.args); i++ {
		a := c.args[i]
		spec := ""
		switch {
		case (a == "-n" || a == "-c") && i+1 < len(c.args):
			spec, bytesMode = c.args[i+1], a == "-c"
			i++
		case strings.HasPrefix(a, "-n") || strings.HasPrefix(a, "-c"):
			spec, bytesMode = a[2:], a[1] == 'c'
		case a == "-f" || a == "-F" || a == "-q":
			continue
		case len(a) > 1 && a[0] == '-' && isDigit(a[1]):
			spec = a[1:]
		default:
			args = append(args, a)
			continue
		}
		if strings.HasPrefix(spec, "+") && c.name == "tail" {
			from = true
		}
		v, err := strconv.Atoi(strings.TrimPrefix(spec, "+"))
		if err != nil || v < 0 {
			return c.fail(1, "invalid number of lines: '%s'", spec), nil
		}
		n = v
	}
	if len(args) == 0 {
		args = []string{"-"}
	}
	st := 0
	for i, a := range args {
		r, done, ok := c.input(a)
		if !ok {
			st = 1
			continue
		}
		if len(args) > 1 {
			if i > 0 {
				fmt.Fprintln(c.out)
			}
			fmt.Fprintf(c.out, "==> %s <==\n", a)
		}
		var err error
		if bytesMode {
			err = c.headTailBytes(r, n, from)
		} else {
			err = c.headTailLines(r, n, from)
		}
		done()
		if err != nil {
			if ctxErr := c.sh.ctx.Err(); ctxErr != nil {
				return 1, ctxErr
			}
			st = c.fail(1, "%s: %s", a, describe(err))
		}
	}
	return st, nil
}

func (c *call) headTailLines(r io.Reader, n int, from bool) error {
	var ring []string
	k := 0
	err := eachLine(r, func(line string) bool {
		k++
		switch {
		case c.name == "head":
			if k > n {
				return false
			}
			fmt.Fprintln(c.out, line)
		case from:
			if k >= n {
				fmt.Fprintln(c.out, line)
			}
		default:
			ring = append(ring, line)
			if len(ring) > n {
				ring = ring[1:]
			}
		}
		return true
	})
	for _, line := range ring {
		fmt.Fprintln(c.out, line)
	}
	return err
}

func (c *call) headTailBytes(r io.Reader, n int, from bool) error {
	if c.name == "head" {
		_, err := io.CopyN(c.out, r, int64(n))
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return err
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPipeBytes))
	if err != nil {
		return err
	}
	switch {
	case from:
		b = b[min(max(n-1, 0), len(b)):]
	case n < len(b):
		b = b[len(b)-n:]
	}
	_, err = c.out.Write(b)
	return err
}

func builtinTee(c *call) (int, error) {
	opts, args, err := getopt(c.args, "ai", "", map[string]byte{"append": 'a'})
	if err != nil {
		return c.fail(1, "%s", err), nil
	}
	writers := []io.Writer{c.out}
	st := 0
	for _, a := range args {
		rel, ok := c.path(a)
		if !ok {
			st = 1
			continue
		}
		w, err := c.sh.ws.create(rel, has(opts, "a"), 0o644)
		if err != nil {
			st = c.fail(1, "%s: %s", a, describe(err))
			continue
		}
		defer w.Close()
		writers = append(writers, w)
	}
	if _, err := io.Copy(io.MultiWriter(writers...), ctxReader{ctx: c.sh.ctx, r: c.in}); err != nil {
		if ctxErr := c.sh.ctx.Err(); ctxErr != nil {
			return 1, ctxErr
		}
		st = c.fail(1, "%s", describe(err))
	}
	return st, nil
}
