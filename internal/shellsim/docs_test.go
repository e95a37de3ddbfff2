package shellsim

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The examples of GitLab's "Triggering pipelines through the API" page
// (shared/reference) must run here exactly as documented.

func TestDocsConditionalUpload(t *testing.T) {
	const line = `if [ -n "${UPLOAD_TO_S3}" ]; then make upload; fi`

	trace, code := run(t, Options{Env: map[string]string{"UPLOAD_TO_S3": "true"}}, line)
	require.Equal(t, 0, code)
	require.Equal(t, "$ "+line+"\n[simulated] make upload\n", trace)

	trace, code = run(t, Options{}, line)
	require.Equal(t, 0, code)
	require.Equal(t, "$ "+line+"\n", trace)

	trace, code = run(t, Options{Env: map[string]string{"UPLOAD_TO_S3": ""}}, line)
	require.Equal(t, 0, code)
	require.Equal(t, "$ "+line+"\n", trace)
}

func TestDocsTriggerWithJobToken(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseMultipartForm(1<<20))
		mu.Lock()
		got = r
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":257,"status":"created"}`)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")

	line := `curl --request POST --form "token=$CI_JOB_TOKEN" --form ref=master https://` + host + `/api/v4/projects/9/trigger/pipeline`
	trace, code := run(t, Options{HTTPClient: srv.Client(), Env: map[string]string{"CI_JOB_TOKEN": "glcbt-64_abc"}}, line)
	require.Equal(t, 0, code, trace)
	require.Equal(t, "$ "+line+"\n"+`{"id":257,"status":"created"}`, trace)

	mu.Lock()
	defer mu.Unlock()
	require.NotNil(t, got)
	require.Equal(t, http.MethodPost, got.Method)
	require.Equal(t, "/api/v4/projects/9/trigger/pipeline", got.URL.Path)
	require.True(t, strings.HasPrefix(got.Header.Get("Content-Type"), "multipart/form-data; boundary="))
	require.Equal(t, "glcbt-64_abc", got.MultipartForm.Value["token"][0])
	require.Equal(t, "master", got.MultipartForm.Value["ref"][0])
}

func TestDocsDownloadArtifacts(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("dist/module.js")
	require.NoError(t, err)
	io.WriteString(w, "export default 1;\n")
	require.NoError(t, zw.Close())

	var mu sync.Mutex
	var query string
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v4/projects/1/jobs/artifacts/master/download", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		query = r.URL.RawQuery
		mu.Unlock()
		// GitLab answers with a redirect to object storage.
		http.Redirect(w, r, "/storage/artifacts.zip", http.StatusFound)
	})
	mux.HandleFunc("/storage/artifacts.zip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Write(buf.Bytes())
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	dir := t.TempDir()
	lines := []string{
		`apt update && apt install -y unzip`,
		`curl --location --output artifacts.zip "` + srv.URL + `/api/v4/projects/1/jobs/artifacts/master/download?job=test&job_token=$CI_JOB_TOKEN"`,
		`unzip artifacts.zip`,
	}
	trace, code := run(t, Options{Dir: dir, HTTPClient: srv.Client(), Env: map[string]string{"CI_JOB_TOKEN": "glcbt-64_xyz"}}, lines...)
	require.Equal(t, 0, code, trace)
	require.Equal(t, "$ "+lines[0]+"\n"+
		"[simulated] apt update\n"+
		"[simulated] apt install -y unzip\n"+
		"$ "+lines[1]+"\n"+
		"$ "+lines[2]+"\n"+
		"Archive:  artifacts.zip\n"+
		"  inflating: dist/module.js\n", trace)
	mu.Lock()
	require.Equal(t, "job=test&job_token=glcbt-64_xyz", query)
	mu.Unlock()
	b, err := os.ReadFile(filepath.Join(dir, "dist", "module.js"))
	require.NoError(t, err)
	require.Equal(t, "export default 1;\n", string(b))
}
