package shellsim

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// curlOption describes a command-line option: its canonical long name and
// whether it takes a value.
type curlOption struct {
	name  string
	value bool
}

// curlShort and curlLong are read-only tables of the options curl accepts.
var curlShort = map[byte]curlOption{
	'X': {"request", true}, 'F': {"form", true}, 'H': {"header", true}, 'd': {"data", true},
	'o': {"output", true}, 'w': {"write-out", true}, 'm': {"max-time", true}, 'u': {"user", true},
	'A': {"user-agent", true}, 'e': {"referer", true}, 'b': {"cookie", true}, 'T': {"upload-file", true},
	'x': {"proxy", true}, 'r': {"range", true}, 'E': {"cert", true}, 'K': {"config", true},
	'f': {"fail", false}, 'L': {"location", false}, 's': {"silent", false}, 'S': {"show-error", false},
	'v': {"verbose", false}, 'i': {"include", false}, 'I': {"head", false}, 'k': {"insecure", false},
	'G': {"get", false}, 'O': {"remote-name", false}, '#': {"progress-bar", false}, 'g': {"globoff", false},
	'N': {"no-buffer", false}, '4': {"ipv4", false}, '6': {"ipv6", false}, 'J': {"remote-header-name", false},
}

var curlLong = map[string]bool{ // name → takes a value
	"request": true, "form": true, "form-string": true, "header": true, "data": true, "data-raw": true,
	"data-binary": true, "data-ascii": true, "data-urlencode": true, "json": true, "output": true,
	"write-out": true, "max-time": true, "connect-timeout": true, "retry": true, "retry-delay": true,
	"retry-max-time": true, "user": true, "user-agent": true, "referer": true, "cookie": true,
	"upload-file": true, "url": true, "max-redirs": true, "cacert": true, "capath": true, "cert": true,
	"key": true, "proxy": true, "range": true, "oauth2-bearer": true, "max-filesize": true,
	"limit-rate": true, "config": true, "resolve": true, "connect-to": true, "interface": true,
	"fail": false, "fail-with-body": false, "location": false, "silent": false, "show-error": false,
	"verbose": false, "include": false, "head": false, "insecure": false, "get": false,
	"remote-name": false, "create-dirs": false, "compressed": false, "retry-connrefused": false,
	"retry-all-errors": false, "http1.0": false, "http1.1": false, "http2": false, "no-progress-meter": false,
	"progress-bar": false, "globoff": false, "no-buffer": false, "location-trusted": false, "ipv4": false,
	"ipv6": false, "tlsv1.2": false, "tlsv1.3": false, "fail-early": false, "no-keepalive": false,
	"raw": false, "remote-header-name": false, "no-sessionid": false, "path-as-is": false, "ssl-reqd": false,
}

type curlForm struct {
	name, value     string
	file            string // name=@file: uploaded as a file part
	content         string // name=<file: the file's content as the value
	ctype, filename string
}

func (cc *curlCmd) usage(format string, a ...any) int {
	fmt.Fprintf(cc.c.err, "curl: %s\ncurl: try 'curl --help' for more information\n", fmt.Sprintf(format, a...))
	return 2
}

func (cc *curlCmd) parse(args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name := a[2:]
			takes, ok := curlLong[name]
			if !ok {
				return cc.usage("option %s: is unknown", a)
			}
			value := ""
			if takes {
				if i+1 >= len(args) {
					return cc.usage("option %s: requires parameter", a)
				}
				i++
				value = args[i]
			}
			if st := cc.set(name, value); st != 0 {
				return st
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				opt, ok := curlShort[a[j]]
				if !ok {
					return cc.usage("option -%c: is unknown", a[j])
				}
				value := ""
				if opt.value {
					value = a[j+1:]
					if value == "" {
						if i+1 >= len(args) {
							return cc.usage("option -%c: requires parameter", a[j])
						}
						i++
						value = args[i]
					}
					j = len(a)
				}
				if st := cc.set(opt.name, value); st != 0 {
					return st
				}
			}
		default:
			cc.urls = append(cc.urls, a)
		}
	}
	return 0
}

// set applies one option.
func (cc *curlCmd) set(name, v string) int {
	var err error
	switch name {
	case "request":
		cc.method = v
	case "header":
		cc.headers = append(cc.headers, v)
	case "user-agent":
		cc.headers = append(cc.headers, "User-Agent: "+v)
	case "referer":
		cc.headers = append(cc.headers, "Referer: "+v)
	case "cookie":
		if strings.Contains(v, "=") {
			cc.headers = append(cc.headers, "Cookie: "+v)
		}
	case "oauth2-bearer":
		cc.headers = append(cc.headers, "Authorization: Bearer "+v)
	case "form", "form-string":
		f, ok := parseForm(v, name == "form-string")
		if !ok {
			return cc.usage("option --%s: is badly used here", name)
		}
		cc.forms = append(cc.forms, f)
	case "data", "data-ascii", "data-binary", "data-raw", "json":
		var s string
		if s, err = cc.dataValue(v, name); err == nil {
			cc.data = append(cc.data, s)
			cc.hasData = true
			cc.json = cc.json || name == "json"
		}
	case "data-urlencode":
		var s string
		if s, err = cc.urlencodeValue(v); err == nil {
			cc.data = append(cc.data, s)
			cc.hasData = true
		}
	case "output":
		cc.outputs = append(cc.outputs, v)
	case "write-out":
		cc.writeOut = v
		if rest, ok := strings.CutPrefix(v, "@"); ok {
			var b []byte
			if b, err = cc.readInput(rest, 64<<10); err == nil {
				cc.writeOut = string(b)
			}
		}
	case "max-time":
		var f float64
		if f, err = strconv.ParseFloat(v, 64); err != nil || f < 0 {
			return cc.usage("option --max-time: expected a proper numerical parameter")
		}
		cc.maxTime = time.Duration(min(f, 1e9) * float64(time.Second))
	case "max-redirs":
		if cc.maxRedirs, err = strconv.Atoi(v); err != nil {
			return cc.usage("option --max-redirs: expected a proper numerical parameter")
		}
	case "user":
		cc.user = v
	case "upload-file":
		cc.uploadFile = v
	case "url":
		cc.urls = append(cc.urls, v)
	case "config":
		return cc.usage("option --config: is not supported here")
	case "fail":
		cc.fail = true
	case "fail-with-body":
		cc.fail, cc.failWithBody = true, true
	case "location", "location-trusted":
		cc.location = true
	case "silent":
		cc.silent = true
	case "show-error":
		cc.showError = true
	case "include":
		cc.include = true
	case "head":
		cc.head = true
	case "insecure":
		cc.insecure = true
	case "get":
		cc.get = true
	case "remote-name":
		cc.remoteName = true
	case "create-dirs":
		cc.createDirs = true
	}
	// Everything else (retries, timeouts other than --max-time, protocol
	// versions, progress meters, proxies, certificates) is accepted and
	// has no effect.
	if err != nil {
		return cc.fatal(26, "Failed to open/read local data from file/application: %s", describe(err))
	}
	return 0
}

// parseForm parses -F name=value, name=@file[;type=T][;filename=N] and
// name=<file.
func parseForm(v string, literal bool) (curlForm, bool) {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return curlForm{}, false
	}
	f := curlForm{name: name, value: value}
	if literal || value == "" || (value[0] != '@' && value[0] != '<') {
		return f, true
	}
	spec := strings.Split(value[1:], ";")
	for _, attr := range spec[1:] {
		k, v, _ := strings.Cut(attr, "=")
		switch strings.TrimSpace(k) {
		case "type":
			f.ctype = v
		case "filename":
			f.filename = strings.Trim(v, `"`)
		}
	}
	if value[0] == '@' {
		f.file = spec[0]
	} else {
		f.content = spec[0]
	}
	return f, true
}

// readInput reads a workspace file (or stdin for "-") named by @file
// arguments, up to limit bytes.
func (cc *curlCmd) readInput(name string, limit int64) ([]byte, error) {
	r, done, ok := cc.c.quietInput(name)
	if !ok {
		return nil, fmt.Errorf("%s: cannot read", name)
	}
	defer done()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return b, nil
}

// quietInput opens an operand like input but leaves reporting to the
// caller.
func (c *call) quietInput(p string) (io.Reader, func(), bool) {
	switch p {
	case "-", "/dev/stdin":
		return c.in, func() {}, true
	case "/dev/null":
		return strings.NewReader(""), func() {}, true
	}
	rel, err := c.sh.ws.resolve(c.sh.cwd, p)
	if err != nil {
		return nil, nil, false
	}
	f, err := c.sh.ws.open(rel)
	if err != nil {
		return nil, nil, false
	}
	return ctxReader{ctx: c.sh.ctx, r: f}, func() { f.Close() }, true
}

func (cc *curlCmd) dataValue(v, kind string) (string, error) {
	if kind == "data-raw" || !strings.HasPrefix(v, "@") {
		return v, nil
	}
	b, err := cc.readInput(v[1:], cc.c.sh.opts.MaxResponseBytes)
	if err != nil {
		return "", err
	}
	if kind == "data" || kind == "data-ascii" {
		b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)
	}
	return string(b), nil
}

// urlencodeValue implements --data-urlencode's forms: content, =content,
// name=content, @file and name@file.
func (cc *curlCmd) urlencodeValue(v string) (string, error) {
	eq := strings.IndexByte(v, '=')
	at := strings.IndexByte(v, '@')
	switch {
	case eq == 0:
		return url.QueryEscape(v[1:]), nil
	case eq > 0 && (at < 0 || eq < at):
		return v[:eq] + "=" + url.QueryEscape(v[eq+1:]), nil
	case at >= 0:
		b, err := cc.readInput(v[at+1:], cc.c.sh.opts.MaxResponseBytes)
		if err != nil {
			return "", err
		}
		if at == 0 {
			return url.QueryEscape(string(b)), nil
		}
		return v[:at] + "=" + url.QueryEscape(string(b)), nil
	}
	return url.QueryEscape(v), nil
}

// fatal reports an error the way curl does ("curl: (N) message"), unless
// --silent is given without --show-error. During a transfer the message is
// held back until --write-out has been printed, as curl prints it on exit.
func (cc *curlCmd) fatal(code int, format string, a ...any) int {
	if cc.silent && !cc.showError {
		return code
	}
	msg := fmt.Sprintf("%s: %s\n", cc.prog, fmt.Sprintf(format, a...))
	if cc.prog == "curl" {
		msg = fmt.Sprintf("curl: (%d) %s\n", code, fmt.Sprintf(format, a...))
	}
	if cc.inTransfer {
		cc.pending = msg
	} else {
		io.WriteString(cc.c.err, msg)
	}
	return code
}
