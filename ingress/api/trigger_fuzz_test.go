package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

// instantPublisher stands in for the relay in the fuzz test: it keeps what
// is published and answers every event at once with a 201, so the whole
// trigger handler runs without NATS or a dispatcher.
type instantPublisher struct {
	mu        sync.Mutex
	published []*event.TriggerRequested
	waiters   map[string]chan event.Outcome
}

func (p *instantPublisher) Await(eventID string) (<-chan event.Outcome, func()) {
	ch := make(chan event.Outcome, 1)
	p.mu.Lock()
	p.waiters[eventID] = ch
	p.mu.Unlock()
	return ch, func() {
		p.mu.Lock()
		delete(p.waiters, eventID)
		p.mu.Unlock()
	}
}

func (p *instantPublisher) PublishTrigger(_ context.Context, ev *event.TriggerRequested) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append(p.published, ev)
	if ch, ok := p.waiters[ev.EventID]; ok {
		ch <- event.Outcome{EventID: ev.EventID, Status: http.StatusCreated, Body: json.RawMessage(`{"id":1}`)}
	}
	return false, nil
}

func (p *instantPublisher) Invalidate(context.Context, event.Invalidation) {}

func (p *instantPublisher) PipelineChanged(context.Context, int64, int64, []int64) error { return nil }

func (p *instantPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.published)
}

func (p *instantPublisher) last() *event.TriggerRequested {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published[len(p.published)-1]
}

// FuzzTriggerRequest sends arbitrary trigger requests through the whole
// handler, parsing included: path ref of the webhook form, query string,
// content type, body and headers. Whatever the request, the answer is never
// a 5xx and always JSON; a 2xx published exactly one event whose variables
// keep every rule and limit, and anything else published nothing. In the
// seeds, TOKEN stands for the project's trigger token.
func FuzzTriggerRequest(f *testing.F) {
	type seed struct {
		pathRef, query, contentType, body, idempotencyKey, gitlabEvent string
	}
	for _, s := range []seed{
		{"", "token=TOKEN&ref=master&variables[A]=1", "", "", "", ""},
		{"", "", "application/x-www-form-urlencoded", "token=TOKEN&ref=master&variables%5BUPLOAD_TO_S3%5D=true", "k1", ""},
		{"", "", "application/json", `{"token":"TOKEN","ref":"master","variables":{"A":"1","B_2":""},"inputs":{"x":1}}`, "", ""},
		{"", "ref=main", "application/json; charset=utf-8", `{"token":"TOKEN","ref":"master","variables":[{"key":"A","value":"1"}]}`, "", ""},
		{"master", "token=TOKEN", "application/json", `{"ref":"refs/heads/feature","commits":[{"id":"abc"}],"variables":{"A":"x"}}`, "", ""},
		{"feature/x", "token=TOKEN&variables[a][b]=1", "", "", "", ""},
		{"", "token=TOKEN&ref=master&variables[A-B]=1&variables[]=x", "", "", "", ""},
		{"", "token=TOKEN&ref=master", "multipart/form-data; boundary=b",
			"--b\r\nContent-Disposition: form-data; name=\"variables[K]\"\r\n\r\nv\r\n--b--\r\n", "", ""},
		{"", "", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nTOKEN\r\n" +
			"--b\r\nContent-Disposition: form-data; name=\"ref\"; filename=\"r\"\r\n\r\nmaster\r\n" +
			"--b\r\nContent-Disposition: form-data; name=\"ref\"\r\n\r\nmaster\r\n--b--\r\n", "", ""},
		{"", "token=TOKEN&ref=master&variables[A]=1&variables[B]=2&variables[C]=3&variables[D]=4&variables[E]=5", "", "", "", ""},
		{"", "token=TOKEN&ref=master&variables[A]=0123456789abcdefX", "", "", "", ""},
		{"", "token=TOKEN&ref=master&async=true", "application/json", `{"variables":{"":"x"}}`, "", "Pipeline Hook"},
		{"", "token=TOKEN&ref=%ZZ", "application/json", `{"token":1,"ref":null,"variables":"x"}`, "", ""},
		{"", "", "text/plain", "token=TOKEN&ref=master", "", ""},
	} {
		f.Add(s.pathRef, s.query, s.contentType, []byte(s.body), s.idempotencyKey, s.gitlabEvent)
	}

	lim := VariableLimits{MaxVariables: 4, MaxValueBytes: 16}
	pool := testenv.Pool(f)
	_, err := store.New(pool).EnsureAdmin(context.Background(), secret.Digest(testAdminToken))
	require.NoError(f, err)
	sealer, err := secret.NewSealer("test-key")
	require.NoError(f, err)
	pub := &instantPublisher{waiters: map[string]chan event.Outcome{}}
	srv := New(Config{ExternalURL: "http://gitlab.test", TriggerWait: time.Second, VariableLimits: lim},
		Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Pool: pool, Sealer: sealer, Publisher: pub,
			Caches: NewCaches(1000, time.Minute)})
	hs := httptest.NewServer(srv)
	f.Cleanup(hs.Close)
	a := &testAPI{t: f, srv: srv, http: hs, q: store.New(pool), admin: testAdminToken}
	id, tok := setupTriggerProject(f, a)

	f.Fuzz(func(t *testing.T, pathRef, query, contentType string, body []byte, idempotencyKey, gitlabEvent string) {
		target := "/api/v4/projects/" + id + "/trigger/pipeline"
		if pathRef != "" {
			target = "/api/v4/projects/" + id + "/ref/" + url.PathEscape(pathRef) + "/trigger/pipeline"
		}
		query = strings.ReplaceAll(query, "TOKEN", url.QueryEscape(tok))
		body = bytes.ReplaceAll(body, []byte("TOKEN"), []byte(tok))
		// What net/http would refuse before any handler runs is out of
		// scope: a request line that is not a URI, a header value with
		// control characters.
		u, err := url.ParseRequestURI(target + "?" + query)
		if err != nil {
			return
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.URL, req.RequestURI = u, u.RequestURI()
		for name, v := range map[string]string{"Content-Type": contentType, "Idempotency-Key": idempotencyKey, "X-Gitlab-Event": gitlabEvent} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				req.Header.Set(name, v)
			}
		}

		before := pub.count()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)

		require.Less(t, rec.Code, 500, "a trigger request is never a server error: %s", rec.Body)
		switch {
		case rec.Code == http.StatusMovedPermanently:
			// The router redirects a path with dot segments (a webhook
			// ref of "." or "..") to its clean form, without a body.
		case rec.Header().Get("Content-Type") == "text/plain":
			require.Equal(t, "400 Bad Request", fmt.Sprint(rec.Code, " ", rec.Body), "GitLab's answer to a malformed string")
		default:
			require.True(t, json.Valid(rec.Body.Bytes()), "the answer is JSON: %d %q", rec.Code, rec.Body)
		}
		if rec.Code >= 300 {
			require.Equal(t, before, pub.count(), "a refused request (%d %s) publishes nothing", rec.Code, rec.Body)
			return
		}
		require.Equal(t, before+1, pub.count(), "an accepted request publishes one event")
		ev := pub.last()
		require.NotEmpty(t, strings.TrimSpace(ev.Ref))
		require.LessOrEqual(t, len(ev.Variables), lim.MaxVariables)
		for _, v := range ev.Variables {
			require.Empty(t, variableKeyProblems(v.Key), "key %q", v.Key)
			require.LessOrEqual(t, len(v.Value), lim.MaxValueBytes, "value of %q", v.Key)
		}
	})
}
