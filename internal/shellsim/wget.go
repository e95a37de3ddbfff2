package shellsim

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// builtinWget maps the common wget invocations (wget [-q] [-O FILE]
// [--header=H] [--post-data=D] URL) onto the same transfer code. wget
// follows redirects and fails on HTTP errors; its exit statuses are 4 for
// network failures and 8 for error responses.
func builtinWget(c *call) (int, error) {
	cc := &curlCmd{c: c, prog: "wget", maxRedirs: 20, location: true, fail: true}
	args := c.args
	output := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		needValue := func() bool {
			if hasValue {
				return true
			}
			if i+1 < len(args) {
				i++
				value = args[i]
				return true
			}
			return false
		}
		switch {
		case a == "-q" || a == "--quiet" || a == "-nv" || a == "--no-verbose":
			cc.silent = true
		case a == "-O" || name == "--output-document":
			if !needValue() {
				fmt.Fprintln(c.err, "wget: option requires an argument -- 'O'")
				return 2, nil
			}
			output = value
		case strings.HasPrefix(a, "-O") && len(a) > 2:
			output = a[2:]
		case name == "--header":
			if needValue() {
				cc.headers = append(cc.headers, value)
			}
		case name == "--post-data" || name == "--body-data":
			if needValue() {
				cc.data = append(cc.data, value)
				cc.hasData = true
			}
		case name == "--method":
			if needValue() {
				cc.method = value
			}
		case name == "--user" || name == "--http-user":
			if needValue() {
				cc.user = value + cc.user
			}
		case name == "--password" || name == "--http-password":
			if needValue() {
				cc.user += ":" + value
			}
		case a == "--no-check-certificate":
			cc.insecure = true
		case name == "--timeout" || name == "-T":
			if needValue() {
				if f, err := strconv.ParseFloat(value, 64); err == nil && f > 0 {
					cc.maxTime = time.Duration(min(f, 1e9) * float64(time.Second))
				}
			}
		case name == "--tries" || name == "-t" || name == "--user-agent" || name == "-U":
			if needValue() && (name == "--user-agent" || name == "-U") {
				cc.headers = append(cc.headers, "User-Agent: "+value)
			}
		case strings.HasPrefix(a, "-") && a != "-":
			// -c, -S, --no-clobber, ...: accepted without effect.
		default:
			cc.urls = append(cc.urls, a)
		}
	}
	if output == "" {
		cc.remoteName = true
	} else {
		cc.outputs = []string{output}
	}
	if len(cc.urls) == 0 {
		return cc.run()
	}
	if cc.remoteName {
		// wget names the file index.html when the URL has no file name.
		for _, u := range cc.urls {
			name := "index.html"
			if pu, code, _ := parseCurlURL(u); code == 0 {
				if b := path.Base(pu.Path); b != "/" && b != "." && b != "" {
					name = b
				}
			}
			cc.outputs = append(cc.outputs, name)
		}
	}
	st, err := cc.run()
	if err != nil {
		return st, err
	}
	switch st {
	case 0:
		return 0, nil
	case 22:
		return 8, nil
	case 6, 7, 28, 35, 47, 52, 56, 60:
		return 4, nil
	case 23, 63:
		return 3, nil
	}
	return 1, nil
}
