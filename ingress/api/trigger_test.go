package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/ingress/relay"
	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

// triggerAPI is the API with a real relay on an embedded NATS server, but no
// dispatcher: what the ingress does on its own.
func newTriggerAPI(t *testing.T, wait time.Duration) (*testAPI, jetstream.JetStream) {
	return newTriggerAPIWith(t, Config{TriggerWait: wait}, false)
}

// newTriggerAPIWith is newTriggerAPI with cfg (its ExternalURL is set here)
// and, with backlog, the queue depth read by a broker.Backlog every 10 ms
// until the test ends.
func newTriggerAPIWith(t *testing.T, cfg Config, backlog bool) (*testAPI, jetstream.JetStream) {
	t.Helper()
	pool := testenv.Pool(t)
	q := store.New(pool)
	_, err := q.EnsureAdmin(context.Background(), secret.Digest(testAdminToken))
	require.NoError(t, err)
	sealer, err := secret.NewSealer("test-key")
	require.NoError(t, err)
	nc, js := testenv.JetStream(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	caches := NewCaches(1000, time.Minute)
	rl, err := relay.New(nc, js, log, caches.Invalidate)
	require.NoError(t, err)
	t.Cleanup(rl.Close)
	d := Deps{Log: log, Pool: pool, Sealer: sealer, Publisher: rl, Caches: caches, JetStream: js}
	if backlog {
		b := broker.NewBacklog(js, event.TriggersStream, event.DispatcherConsumer, 10*time.Millisecond, log)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { b.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		d.Backlog = b
	}
	cfg.ExternalURL = "http://gitlab.test"
	srv := New(cfg, d)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testAPI{t: t, srv: srv, http: hs, q: q, admin: testAdminToken}, js
}

// setupTriggerProject creates a project with a CI config on master and a
// trigger token through the API, and returns the project id and token.
func setupTriggerProject(t testing.TB, a *testAPI) (string, string) {
	t.Helper()
	status, body, _ := a.do("POST", "/api/v4/projects", a.admin, "", url.Values{"name": {"app"}}.Encode())
	require.Equal(t, http.StatusCreated, status, body)
	var p struct{ ID int64 }
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	id := jsonNumber(p.ID)
	status, body, _ = a.do("POST", "/api/v4/projects/"+id+"/repository/files/.gitlab-ci.yml", a.admin, "",
		url.Values{"branch": {"master"}, "content": {"job:\n  script: [echo hi]\n"}, "commit_message": {"ci"}}.Encode())
	require.Equal(t, http.StatusCreated, status, body)
	status, body, _ = a.do("POST", "/api/v4/projects/"+id+"/triggers", a.admin, "", "description=t")
	require.Equal(t, http.StatusCreated, status, body)
	var tr struct{ Token string }
	require.NoError(t, json.Unmarshal([]byte(body), &tr))
	return id, tr.Token
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestTriggerWithoutStoreIs503AndNeverAccepted(t *testing.T) {
	a, js := newTriggerAPI(t, time.Second)
	id, tok := setupTriggerProject(t, a)
	// No TRIGGERS stream: JetStream cannot store the event.
	status, body, _ := a.do("POST", "/api/v4/projects/"+id+"/trigger/pipeline?token="+tok+"&ref=master", "", "", "")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, body, "503 Service Unavailable")
	require.NotContains(t, body, tok)

	// With the stream but no dispatcher, the bound passes: 202 with a
	// status URL that says pending.
	require.NoError(t, broker.EnsureStreams(context.Background(), js, broker.StreamConfig{}))
	status, body, hdr := a.do("POST", "/api/v4/projects/"+id+"/trigger/pipeline?token="+tok+"&ref=master", "", "", "")
	require.Equal(t, http.StatusAccepted, status, body)
	var acc struct {
		EventID   string `json:"event_id"`
		Status    string `json:"status"`
		StatusURL string `json:"status_url"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &acc))
	require.Equal(t, "pending", acc.Status)
	require.Equal(t, acc.StatusURL, hdr.Get("Location"))
	require.True(t, strings.HasPrefix(acc.StatusURL, "http://gitlab.test/api/v4/projects/"+id+"/trigger/events/"))
	path := strings.TrimPrefix(acc.StatusURL, "http://gitlab.test")
	status, _, _ = a.do("GET", path+"?token="+tok, "", "", "")
	require.Equal(t, http.StatusAccepted, status)
	status, _, _ = a.do("GET", path, "", "", "")
	require.Equal(t, http.StatusNotFound, status, "a status URL needs the token or a personal token")

	// async=true answers right after the durable publish.
	start := time.Now()
	status, _, _ = a.do("POST", "/api/v4/projects/"+id+"/trigger/pipeline?token="+tok+"&ref=master&async=true", "", "", "")
	require.Equal(t, http.StatusAccepted, status)
	require.Less(t, time.Since(start), time.Second)

	// Both were stored, once each.
	st, err := js.Stream(context.Background(), "TRIGGERS")
	require.NoError(t, err)
	info, err := st.Info(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.State.Msgs)
}

func TestTriggerFromPipelineHookIsForbidden(t *testing.T) {
	a, js := newTriggerAPI(t, time.Second)
	require.NoError(t, broker.EnsureStreams(context.Background(), js, broker.StreamConfig{}))
	id, tok := setupTriggerProject(t, a)
	req, err := http.NewRequest("POST", a.http.URL+"/api/v4/projects/"+id+"/trigger/pipeline?token="+tok+"&ref=master", nil)
	require.NoError(t, err)
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.JSONEq(t, `{"message":"403 Forbidden"}`, string(b))
}
