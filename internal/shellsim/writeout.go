package shellsim

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// writeOutput prints --write-out after a transfer, successful or not.
func (cc *curlCmd) writeOutput(r *curlResult) {
	if cc.writeOut == "" {
		return
	}
	var b strings.Builder
	f := cc.writeOut
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '\\' && i+1 < len(f) && strings.IndexByte("nrt\\", f[i+1]) >= 0:
			b.WriteByte(map[byte]byte{'n': '\n', 'r': '\r', 't': '\t', '\\': '\\'}[f[i+1]])
			i++
		case strings.HasPrefix(f[i:], "%%"):
			b.WriteByte('%')
			i++
		case strings.HasPrefix(f[i:], "%{"):
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				b.WriteString(f[i:])
				i = len(f)
				continue
			}
			name := f[i+2 : i+end]
			i += end
			v, ok := r.variable(name)
			if !ok {
				fmt.Fprintf(cc.c.err, "curl: unknown --write-out variable: '%s'\n", name)
			}
			b.WriteString(v)
		case strings.HasPrefix(f[i:], "%header{"):
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				b.WriteString(f[i:])
				i = len(f)
				continue
			}
			if r.header != nil {
				b.WriteString(strings.Join(r.header.Values(f[i+8:i+end]), ", "))
			}
			i += end
		default:
			b.WriteByte(f[i])
		}
	}
	io.WriteString(cc.c.out, b.String())
}

func (r *curlResult) variable(name string) (string, bool) {
	switch name {
	case "http_code", "response_code":
		return fmt.Sprintf("%03d", r.code), true
	case "exitcode":
		return strconv.Itoa(r.exit), true
	case "url_effective", "url":
		return r.url, true
	case "content_type":
		return r.contentType, true
	case "redirect_url":
		return r.redirectURL, true
	case "num_redirects":
		return strconv.Itoa(r.redirects), true
	case "size_download":
		return strconv.FormatInt(r.size, 10), true
	case "method":
		return r.method, true
	case "errormsg":
		return r.errMsg, true
	case "time_total":
		return fmt.Sprintf("%.6f", r.elapsed.Seconds()), true
	case "stdout", "stderr":
		return "", true
	}
	return "", false
}
