package shellsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"strings"
	"syscall"
	"time"
)

// curlUserAgent is sent unless the script sets its own.
const curlUserAgent = "curl/8.5.0"

var errTooManyRedirects = errors.New("too many redirects")

// curlCmd is one parsed curl (or wget) invocation.
type curlCmd struct {
	c    *call
	prog string // "curl" or "wget", for messages

	method       string
	headers      []string
	forms        []curlForm
	data         []string
	hasData      bool
	json         bool
	get          bool
	fail         bool
	failWithBody bool
	location     bool
	maxRedirs    int
	outputs      []string
	remoteName   bool
	createDirs   bool
	silent       bool
	showError    bool
	writeOut     string
	maxTime      time.Duration
	insecure     bool
	include      bool
	head         bool
	user         string
	uploadFile   string
	urls         []string

	inTransfer bool   // fatal holds messages back while set
	pending    string // the held-back message
}

// curlResult is what --write-out can report about one transfer.
type curlResult struct {
	code        int
	exit        int
	url         string
	method      string
	contentType string
	redirectURL string
	redirects   int
	size        int64
	elapsed     time.Duration
	errMsg      string
	header      http.Header
}

// builtinCurl performs real HTTP requests with the options GitLab's
// documentation and typical CI scripts use. Exit statuses and messages
// follow curl's (6, 7, 22, 23, 28, 47, 63, ...). --retry and its
// companions are accepted but requests are not retried.
func builtinCurl(c *call) (int, error) {
	cc := &curlCmd{c: c, prog: "curl", maxRedirs: 50}
	if st := cc.parse(c.args); st != 0 {
		return st, nil
	}
	return cc.run()
}

func (cc *curlCmd) run() (int, error) {
	if len(cc.urls) == 0 {
		if cc.prog == "curl" {
			return cc.usage("no URL specified"), nil
		}
		fmt.Fprintf(cc.c.err, "%s: missing URL\n", cc.prog)
		return 1, nil
	}
	for i, u := range cc.urls {
		out := ""
		if i < len(cc.outputs) {
			out = cc.outputs[i]
		}
		code, err := cc.transfer(u, out)
		if err != nil || code != 0 {
			return code, err
		}
	}
	return 0, nil
}

// parseCurlURL validates a URL as curl does: no blanks or control
// characters, http or https only (a scheme-less URL means http).
func parseCurlURL(raw string) (*url.URL, int, string) {
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return nil, 3, "URL rejected: Malformed input to a URL function"
		}
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, 3, "URL rejected: Malformed input to a URL function"
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return nil, 1, fmt.Sprintf("Protocol %q not supported", u.Scheme)
	}
	if u.Host == "" {
		return nil, 3, "URL rejected: No host part in the URL"
	}
	u.Fragment, u.RawFragment = "", ""
	return u, 0, ""
}

// body builds the request body and its content type.
func (cc *curlCmd) body(u *url.URL) (io.Reader, int64, string, int) {
	sh := cc.c.sh
	limit := sh.opts.MaxResponseBytes
	switch {
	case cc.uploadFile != "":
		b, err := cc.readInput(cc.uploadFile, limit)
		if err != nil {
			return nil, 0, "", cc.fatal(26, "Failed to open/read local data from file/application")
		}
		if strings.HasSuffix(u.Path, "/") {
			u.Path += path.Base(cc.uploadFile)
			u.RawPath = ""
		}
		return bytes.NewReader(b), int64(len(b)), "", 0
	case len(cc.forms) > 0:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, f := range cc.forms {
			if f.file == "" {
				value := f.value
				if f.content != "" {
					b, err := cc.readInput(f.content, limit)
					if err != nil {
						return nil, 0, "", cc.fatal(26, "Failed to open/read local data from file/application")
					}
					value = string(b)
				}
				h := textproto.MIMEHeader{}
				h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"`, escapeQuotes(f.name)))
				if f.ctype != "" {
					h.Set("Content-Type", f.ctype)
				}
				pw, _ := mw.CreatePart(h)
				io.WriteString(pw, value)
				continue
			}
			b, err := cc.readInput(f.file, limit)
			if err != nil {
				return nil, 0, "", cc.fatal(26, "Failed to open/read local data from file/application")
			}
			filename := f.filename
			if filename == "" {
				filename = path.Base(f.file)
			}
			ctype := f.ctype
			if ctype == "" {
				ctype = "application/octet-stream"
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, escapeQuotes(f.name), escapeQuotes(filename)))
			h.Set("Content-Type", ctype)
			pw, _ := mw.CreatePart(h)
			pw.Write(b)
			if int64(buf.Len()) > limit {
				return nil, 0, "", cc.fatal(26, "Failed to open/read local data from file/application: form too large")
			}
		}
		mw.Close()
		return &buf, int64(buf.Len()), mw.FormDataContentType(), 0
	case cc.hasData && !cc.get:
		s := strings.Join(cc.data, "&")
		ctype := "application/x-www-form-urlencoded"
		if cc.json {
			ctype = "application/json"
		}
		return strings.NewReader(s), int64(len(s)), ctype, 0
	}
	return nil, 0, "", 0
}

func escapeQuotes(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func (cc *curlCmd) requestMethod(hasBody bool) string {
	switch {
	case cc.method != "":
		return cc.method
	case cc.head:
		return http.MethodHead
	case cc.uploadFile != "":
		return http.MethodPut
	case hasBody:
		return http.MethodPost
	}
	return http.MethodGet
}

// transfer performs one request; out is the --output file ("" for stdout
// unless --remote-name). It returns curl's exit status; a non-nil error
// means the run's context ended.
func (cc *curlCmd) transfer(rawURL, out string) (int, error) {
	sh := cc.c.sh
	res := curlResult{}
	cc.inTransfer = true
	defer func() {
		cc.writeOutput(&res)
		io.WriteString(cc.c.err, cc.pending)
		cc.inTransfer, cc.pending = false, ""
	}()
	finish := func(code int) (int, error) {
		res.exit = code
		return code, nil
	}
	u, code, msg := parseCurlURL(rawURL)
	if code != 0 {
		res.errMsg = msg
		return finish(cc.fatal(code, "%s", msg))
	}
	if cc.get && cc.hasData {
		q := strings.Join(cc.data, "&")
		if u.RawQuery != "" {
			u.RawQuery += "&" + q
		} else {
			u.RawQuery = q
		}
	}
	body, size, ctype, code := cc.body(u)
	if code != 0 {
		return finish(code)
	}
	method := cc.requestMethod(body != nil)
	res.method = method

	ctx, cancel := context.WithCancel(sh.ctx)
	if cc.maxTime > 0 {
		ctx, cancel = context.WithTimeout(sh.ctx, cc.maxTime)
	}
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		res.errMsg = "URL rejected: Malformed input to a URL function"
		return finish(cc.fatal(3, "%s", res.errMsg))
	}
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("User-Agent", curlUserAgent)
	req.Header.Set("Accept", "*/*")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if cc.json {
		req.Header.Set("Accept", "application/json")
	}
	if cc.user != "" {
		user, pass, _ := strings.Cut(cc.user, ":")
		req.SetBasicAuth(user, pass)
	}
	for _, h := range cc.headers {
		applyHeader(req, h)
	}

	client, closeIdle := cc.client(&res)
	defer closeIdle()
	start := time.Now()
	resp, err := client.Do(req)
	res.elapsed = time.Since(start)
	if err != nil {
		if ctxErr := sh.ctx.Err(); ctxErr != nil {
			return 1, ctxErr
		}
		code, msg := classifyHTTPError(err, u, res.elapsed, cc.maxRedirs)
		res.errMsg = msg
		return finish(cc.fatal(code, "%s", msg))
	}
	defer resp.Body.Close()
	res.code = resp.StatusCode
	res.url = resp.Request.URL.String()
	res.contentType = resp.Header.Get("Content-Type")
	res.header = resp.Header
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if loc, err := resp.Location(); err == nil {
			res.redirectURL = loc.String()
		}
	}
	failed := cc.fail && resp.StatusCode >= 400
	if failed && !cc.failWithBody {
		res.errMsg = fmt.Sprintf("The requested URL returned error: %d", resp.StatusCode)
		return finish(cc.fatal(22, "%s", res.errMsg))
	}

	// Where the body goes.
	var dst io.Writer = cc.c.out
	if out == "" && cc.remoteName {
		out = path.Base(resp.Request.URL.Path)
		if out == "/" || out == "." || out == "" {
			res.errMsg = "Remote file name has no length"
			return finish(cc.fatal(23, "%s", res.errMsg))
		}
	}
	switch out {
	case "", "-", "/dev/stdout":
	case "/dev/null":
		dst = io.Discard
	case "/dev/stderr":
		dst = cc.c.err
	default:
		rel, err := sh.ws.resolve(sh.cwd, out)
		if err == nil && cc.createDirs {
			err = sh.ws.mkdirAll(path.Dir(rel))
		}
		var f *fileWriter
		if err == nil {
			f, err = sh.ws.create(rel, false, 0o644)
		}
		if err != nil {
			res.errMsg = fmt.Sprintf("Failed to open the file %s: %s", out, describe(err))
			return finish(cc.fatal(23, "%s", res.errMsg))
		}
		defer f.Close()
		dst = f
	}
	// Output to the trace stops where the trace is truncated: reading
	// further would only be dropped.
	limit, toTrace := sh.opts.MaxResponseBytes, false
	if t, ok := dst.(*trackWriter); ok && t.w == sh.trace && sh.trace.room() < limit {
		limit, toTrace = sh.trace.room(), true
	}
	tw := &trackWriter{w: dst}
	if cc.include || cc.head {
		fmt.Fprintf(tw, "%s %s\r\n", resp.Proto, resp.Status)
		resp.Header.Write(tw)
		io.WriteString(tw, "\r\n")
	}
	if method != http.MethodHead {
		n, err := io.Copy(tw, io.LimitReader(resp.Body, limit+1))
		res.size = min(n, limit)
		res.elapsed = time.Since(start)
		switch {
		case sh.ctx.Err() != nil:
			return 1, sh.ctx.Err()
		case n > limit && toTrace:
		case n > limit:
			res.errMsg = "Maximum file size exceeded"
			return finish(cc.fatal(63, "%s", res.errMsg))
		case tw.err != nil:
			res.errMsg = "Failure writing output to destination: " + describe(tw.err)
			return finish(cc.fatal(23, "%s", res.errMsg))
		case err != nil && (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)):
			res.errMsg = fmt.Sprintf("Operation timed out after %d milliseconds with %d bytes received", res.elapsed.Milliseconds(), n)
			return finish(cc.fatal(28, "%s", res.errMsg))
		case err != nil:
			res.errMsg = "Failure when receiving data from the peer"
			return finish(cc.fatal(56, "%s", res.errMsg))
		}
	}
	if failed {
		res.errMsg = fmt.Sprintf("The requested URL returned error: %d", resp.StatusCode)
		return finish(cc.fatal(22, "%s", res.errMsg))
	}
	return finish(0)
}

// applyHeader applies -H: "K: V" sets, "K:" removes a default header,
// "K;" sends an empty one.
func applyHeader(req *http.Request, h string) {
	if name, ok := strings.CutSuffix(strings.TrimSpace(h), ";"); ok && !strings.Contains(name, ":") {
		req.Header[textproto.CanonicalMIMEHeaderKey(name)] = []string{""}
		return
	}
	name, value, ok := strings.Cut(h, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return
	}
	name = strings.TrimSpace(name)
	value = strings.TrimSpace(value)
	switch {
	case strings.EqualFold(name, "Host"):
		req.Host = value
	case value == "" && strings.EqualFold(name, "User-Agent"):
		req.Header.Set("User-Agent", "")
	case value == "":
		req.Header.Del(name)
	default:
		if _, set := req.Header[textproto.CanonicalMIMEHeaderKey(name)]; set && isDefaultHeader(name) {
			req.Header.Set(name, value)
		} else {
			req.Header.Add(name, value)
		}
	}
}

func isDefaultHeader(name string) bool {
	switch textproto.CanonicalMIMEHeaderKey(name) {
	case "User-Agent", "Accept", "Content-Type", "Authorization":
		return true
	}
	return false
}

// client derives the client for one transfer from the run's client: curl
// follows redirects only with --location, and --insecure needs a transport
// of its own.
func (cc *curlCmd) client(res *curlResult) (*http.Client, func()) {
	cl := *cc.c.sh.client
	maxRedirs := cc.maxRedirs
	if cc.location {
		cl.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if maxRedirs >= 0 && len(via) > maxRedirs {
				return errTooManyRedirects
			}
			res.redirects = len(via)
			return nil
		}
	} else {
		cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	if !cc.insecure {
		return &cl, func() {}
	}
	base, ok := cl.Transport.(*http.Transport)
	if cl.Transport == nil {
		base, ok = http.DefaultTransport.(*http.Transport)
	}
	if !ok {
		return &cl, func() {}
	}
	tr := base.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.InsecureSkipVerify = true
	cl.Transport = tr
	return &cl, tr.CloseIdleConnections
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// classifyHTTPError maps a client error to curl's exit status and message.
func classifyHTTPError(err error, u *url.URL, elapsed time.Duration, maxRedirs int) (int, string) {
	// A *url.Error repeats the URL, query string and tokens included: keep
	// it out of the messages.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, errTooManyRedirects):
		return 47, fmt.Sprintf("Maximum (%d) redirects followed", maxRedirs)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return 28, fmt.Sprintf("Operation timed out after %d milliseconds with 0 bytes received", elapsed.Milliseconds())
	case errors.As(err, &dnsErr):
		return 6, "Could not resolve host: " + host
	case errors.As(err, &verifyErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert):
		return 60, "SSL certificate problem: " + err.Error()
	case errors.As(err, &recordErr):
		return 35, "SSL connect error"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return 52, "Empty reply from server"
	case errors.As(err, &opErr) && opErr.Op == "dial" && errors.Is(err, syscall.ECONNREFUSED):
		return 7, fmt.Sprintf("Failed to connect to %s port %s after %d ms: Connection refused", host, port, elapsed.Milliseconds())
	}
	return 7, fmt.Sprintf("Failed to connect to %s port %s after %d ms: Couldn't connect to server", host, port, elapsed.Milliseconds())
}
