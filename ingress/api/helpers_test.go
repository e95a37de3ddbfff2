package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

// testAPI is a Server on a fresh database, served over real HTTP, with the
// bootstrap admin token "admin-token".
type testAPI struct {
	t     testing.TB
	srv   *Server
	http  *httptest.Server
	q     *store.Queries
	admin string
}

const testAdminToken = "admin-token"

// newTestAPI builds the API without a publisher: enough for every endpoint
// but the trigger hot path, which the end-to-end tests in test/ cover
// against real NATS.
func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	pool := testenv.Pool(t)
	q := store.New(pool)
	_, err := q.EnsureAdmin(context.Background(), secret.Digest(testAdminToken))
	require.NoError(t, err)
	sealer, err := secret.NewSealer("test-key")
	require.NoError(t, err)
	srv := New(Config{ExternalURL: "http://gitlab.test"}, Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Pool: pool, Sealer: sealer,
		Caches: NewCaches(1000, time.Minute),
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testAPI{t: t, srv: srv, http: hs, q: q, admin: testAdminToken}
}

// do sends a request with an optional PRIVATE-TOKEN and body (a
// url.Values-encoded form when contentType is empty) and returns status and
// body.
func (a *testAPI) do(method, path, token, contentType, body string) (int, string, http.Header) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.http.URL+path, strings.NewReader(body))
	require.NoError(a.t, err)
	if token != "" {
		req.Header.Set("PRIVATE-TOKEN", token)
	}
	if body != "" {
		if contentType == "" {
			contentType = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}
