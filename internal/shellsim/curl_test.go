package shellsim

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recorded is what the test server saw of one request.
type recorded struct {
	method, path, rawQuery string
	header                 http.Header
	form                   map[string][]string
	files                  map[string]string // field → "filename:content"
	body                   string
}

// testServer serves a few routes and records every request.
type testServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newTestServer(t *testing.T) *testServer {
	ts := &testServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, header: r.Header.Clone()}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			require.NoError(t, r.ParseMultipartForm(1<<20))
			rec.form = r.MultipartForm.Value
			rec.files = map[string]string{}
			for name, fhs := range r.MultipartForm.File {
				f, err := fhs[0].Open()
				require.NoError(t, err)
				b, _ := io.ReadAll(f)
				f.Close()
				rec.files[name] = fhs[0].Filename + ":" + string(b)
			}
		} else {
			b, _ := io.ReadAll(r.Body)
			rec.body = string(b)
		}
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, rec)
		ts.mu.Unlock()
		switch r.URL.Path {
		case "/missing":
			http.Error(w, `{"message":"404 Not Found"}`, http.StatusNotFound)
		case "/redirect":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/final":
			io.WriteString(w, "final body\n")
		case "/big":
			io.WriteString(w, strings.Repeat("x", 1000))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":1}`+"\n")
		}
	})
	ts.Server = httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) last(t *testing.T) recorded {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	require.NotEmpty(t, ts.reqs)
	return ts.reqs[len(ts.reqs)-1]
}

func (ts *testServer) opts(dir string) Options {
	return Options{Dir: dir, HTTPClient: ts.Client(), Env: map[string]string{"URL": ts.URL, "CI_JOB_TOKEN": "glcbt-secret"}}
}

func TestCurlRequests(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name  string
		line  string
		out   string
		check func(t *testing.T, r recorded)
	}{
		{
			name: "form post",
			line: `curl --request POST --form "token=$CI_JOB_TOKEN" --form ref=master --form "variables[UPLOAD_TO_S3]=true" $URL/api/v4/projects/9/trigger/pipeline`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "POST", r.method)
				require.Equal(t, "/api/v4/projects/9/trigger/pipeline", r.path)
				require.Equal(t, []string{"glcbt-secret"}, r.form["token"])
				require.Equal(t, []string{"master"}, r.form["ref"])
				require.Equal(t, []string{"true"}, r.form["variables[UPLOAD_TO_S3]"])
			},
		},
		{
			name: "query string kept verbatim",
			line: `curl -X POST "$URL/api/v4/projects/9/trigger/pipeline?token=TOKEN&ref=master&variables%5BX%5D=a+b"`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "POST", r.method)
				require.Equal(t, "token=TOKEN&ref=master&variables%5BX%5D=a+b", r.rawQuery)
			},
		},
		{
			name: "encoded path kept",
			line: `curl -s "$URL/api/v4/projects/group%2Fproject/triggers"`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "/api/v4/projects/group/project/triggers", r.path)
				require.Equal(t, "GET", r.method)
			},
		},
		{
			name: "headers",
			line: `curl --header "PRIVATE-TOKEN: abc" -H 'X-Two: 2' -A agent/1 -H "Accept:" $URL/h`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "abc", r.header.Get("Private-Token"))
				require.Equal(t, "2", r.header.Get("X-Two"))
				require.Equal(t, "agent/1", r.header.Get("User-Agent"))
				require.Empty(t, r.header.Values("Accept"))
			},
		},
		{
			name: "data",
			line: `curl -sS -d 'a=1' --data b=2 --data-urlencode 'q=a b&c' $URL/d`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "POST", r.method)
				require.Equal(t, "a=1&b=2&q=a+b%26c", r.body)
				require.Equal(t, "application/x-www-form-urlencoded", r.header.Get("Content-Type"))
			},
		},
		{
			name: "data from file and get",
			line: `printf 'x=1\n' > body.txt; curl -G -d @body.txt $URL/g`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "GET", r.method)
				require.Equal(t, "x=1", r.rawQuery)
			},
		},
		{
			name: "json",
			line: `curl --json '{"a":1}' $URL/j`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, `{"a":1}`, r.body)
				require.Equal(t, "application/json", r.header.Get("Content-Type"))
			},
		},
		{
			name: "file upload form",
			line: `echo artifact > art.txt; curl -F "file=@art.txt" -F 'name=<art.txt' -F "typed=@art.txt;type=text/plain;filename=renamed.txt" $URL/upload`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "art.txt:artifact\n", r.files["file"])
				require.Equal(t, "renamed.txt:artifact\n", r.files["typed"])
				require.Equal(t, []string{"artifact\n"}, r.form["name"])
			},
		},
		{
			name: "upload file with put",
			line: `echo pkg > pkg.tgz; curl --header "JOB-TOKEN: $CI_JOB_TOKEN" --upload-file pkg.tgz "$URL/api/v4/projects/1/packages/generic/p/1.0/"`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "PUT", r.method)
				require.Equal(t, "/api/v4/projects/1/packages/generic/p/1.0/pkg.tgz", r.path)
				require.Equal(t, "pkg\n", r.body)
				require.Equal(t, "glcbt-secret", r.header.Get("Job-Token"))
			},
		},
		{
			name: "basic auth",
			line: `curl -su user:pass $URL/auth`,
			out:  "{\"id\":1}\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "Basic dXNlcjpwYXNz", r.header.Get("Authorization"))
			},
		},
		{
			name: "write-out",
			line: `curl -s -o /dev/null -w '%{http_code} %{content_type} %{method}\n' $URL/w`,
			out:  "200 application/json GET\n",
		},
		{
			name: "include headers",
			line: `curl -si $URL/i | head -n 1`,
			out:  "HTTP/1.1 200 OK\r\n",
		},
		{
			name: "bundled short options",
			line: `curl -fsSL -XPOST $URL/redirect`,
			out:  "final body\n",
			check: func(t *testing.T, r recorded) {
				require.Equal(t, "/final", r.path)
			},
		},
		{
			name: "no redirect without --location",
			line: `curl -s -w '%{http_code} %{redirect_url}' $URL/redirect`,
			out:  "<a href=\"/final\">Found</a>.\n\n302 " + ts.URL + "/final",
		},
		{
			name: "redirect with --location",
			line: `curl -s -L -w '%{http_code} %{num_redirects} %{url_effective}' $URL/redirect`,
			out:  "final body\n200 1 " + ts.URL + "/final",
		},
		{
			name: "without --fail an error response succeeds",
			line: `curl -s $URL/missing`,
			out:  "{\"message\":\"404 Not Found\"}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trace, code := run(t, ts.opts(t.TempDir()), tt.line)
			require.Equal(t, 0, code, trace)
			require.Equal(t, tt.out, output(trace))
			if tt.check != nil {
				tt.check(t, ts.last(t))
			}
		})
	}
}

func TestCurlFailures(t *testing.T) {
	ts := newTestServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, port, _ := net.SplitHostPort(closedAddr)

	tests := []struct {
		name string
		line string
		code int
		out  string
		opts func(*Options)
	}{
		{"fail on 404", `curl --fail $URL/missing`, 22, "curl: (22) The requested URL returned error: 404\n", nil},
		{"fail silently", `curl -sf $URL/missing`, 22, "", nil},
		{"fail with show-error", `curl -sSf $URL/missing`, 22, "curl: (22) The requested URL returned error: 404\n", nil},
		{"fail with body", `curl -s --fail-with-body $URL/missing`, 22, "{\"message\":\"404 Not Found\"}\n", nil},
		{"fail keeps write-out", `curl -sf -w '%{http_code}\n' $URL/missing || echo "status $?"`, 0, "404\nstatus 22\n", nil},
		{"error after write-out", `curl -sSf -w '%{http_code} %{exitcode}\n' $URL/missing`, 22, "404 22\ncurl: (22) The requested URL returned error: 404\n", nil},
		{"connection refused", `curl http://` + closedAddr + `/x`, 7, "curl: (7) Failed to connect to 127.0.0.1 port " + port + " after", nil},
		{"connection refused with default client", `curl -sS http://` + closedAddr + `/x`, 7, "curl: (7) Failed to connect to 127.0.0.1 port " + port, func(o *Options) { o.HTTPClient = nil }},
		{"refused write-out", `curl -s -w '%{http_code}' http://` + closedAddr, 7, "000", nil},
		{"unsupported protocol", `curl file:///etc/passwd`, 1, "curl: (1) Protocol \"file\" not supported\n", nil},
		{"malformed url", `curl "http://a b/"`, 3, "curl: (3) URL rejected", nil},
		{"no url", `curl -s`, 2, "curl: no URL specified", nil},
		{"unknown option", `curl --frobnicate $URL`, 2, "curl: option --frobnicate: is unknown", nil},
		{"too many redirects", `curl -L --max-redirs 3 $URL/loop`, 47, "curl: (47) Maximum (3) redirects followed\n", nil},
		{"timeout", `curl --max-time 0.2 $URL/slow`, 28, "curl: (28) Operation timed out", nil},
		{"response too large", `curl -s -S $URL/big`, 63, "curl: (63) Maximum file size exceeded\n", func(o *Options) { o.MaxResponseBytes = 100 }},
		{"output outside the workspace", `curl -sS -o ../x $URL/`, 23, "curl: (23) Failed to open the file ../x: path is outside the job's workspace\n", nil},
		{"missing upload file", `curl -sS -F f=@nope $URL/`, 26, "curl: (26) Failed to open/read local data", nil},
		{"wget error", `wget -q -O out $URL/missing`, 8, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ts.opts(t.TempDir())
			if tt.opts != nil {
				tt.opts(&opts)
			}
			trace, code := run(t, opts, tt.line)
			require.Equal(t, tt.code, code, trace)
			if tt.out == "" {
				require.Empty(t, output(trace))
			} else {
				require.Contains(t, output(trace), tt.out)
			}
		})
	}
}

func TestCurlOutputFiles(t *testing.T) {
	ts := newTestServer(t)
	dir := t.TempDir()
	trace, code := run(t, ts.opts(dir),
		`curl -s --output body.json $URL/api`,
		`curl -s -o sub/dir/final.txt --create-dirs -L $URL/redirect`,
		`curl -sO $URL/final`,
		`wget -q $URL/big && wget -q -O - $URL/final`,
		`cat body.json`,
	)
	require.Equal(t, 0, code, trace)
	require.Equal(t, "final body\n{\"id\":1}\n", output(trace))
	for name, want := range map[string]string{
		"body.json":         "{\"id\":1}\n",
		"sub/dir/final.txt": "final body\n",
		"final":             "final body\n",
		"big":               strings.Repeat("x", 1000),
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, name)
		require.Equal(t, want, string(b), name)
	}
}

func TestCurlCancellation(t *testing.T) {
	ts := newTestServer(t)
	opts := ts.opts(t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	code, err := Run(ctx, []string{`curl $URL/slow`}, opts)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, -1, code)
	require.Less(t, time.Since(start), 3*time.Second)
}

// failingTransport refuses every request, for runs that must not reach
// the network.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("network disabled in tests")
}

func TestCurlTransportError(t *testing.T) {
	trace, code := run(t, Options{HTTPClient: &http.Client{Transport: failingTransport{}}}, `curl https://gitlab.example.com/api/v4/version`)
	require.Equal(t, 7, code)
	require.Contains(t, trace, "curl: (7) Failed to connect to gitlab.example.com port 443")
}

func TestCurlTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure\n")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	env := map[string]string{"URL": srv.URL}

	trace, code := run(t, Options{Env: env}, `curl -sS "$URL/?job_token=glcbt-secret"`)
	require.Equal(t, 60, code, trace)
	require.Contains(t, trace, "curl: (60) SSL certificate problem")
	require.NotContains(t, output(trace), "glcbt-secret", "error messages do not repeat the URL")

	trace, code = run(t, Options{Env: env}, `curl -sSk $URL/`)
	require.Equal(t, 0, code, trace)
	require.Equal(t, "secure\n", output(trace))

	trace, code = run(t, Options{Env: env, HTTPClient: srv.Client()}, `curl -sS $URL/`)
	require.Equal(t, 0, code, trace)
	require.Equal(t, "secure\n", output(trace))
}

func TestCurlOutputToTruncatedTrace(t *testing.T) {
	ts := newTestServer(t)
	opts := ts.opts(t.TempDir())
	opts.MaxOutput = 200
	trace, code := run(t, opts, `curl -s $URL/big`, `echo next`)
	require.Equal(t, 0, code, "a truncated trace does not fail the download")
	require.Equal(t, 1, strings.Count(trace, "[output truncated]"))
	require.LessOrEqual(t, len(trace), 200+len("\n"+truncatedLine))
}
