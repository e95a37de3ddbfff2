package api

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
)

// storedTriggers is how many events the TRIGGERS stream holds.
func storedTriggers(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), event.TriggersStream)
	require.NoError(t, err)
	return st.CachedInfo().State.Msgs
}

// drainTriggers acknowledges every stored event, as a dispatcher would.
func drainTriggers(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	c, err := broker.DispatcherConsumer(ctx, js, time.Minute)
	require.NoError(t, err)
	for storedTriggers(t, js) > 0 {
		batch, err := c.Fetch(100, jetstream.FetchMaxWait(time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			require.NoError(t, m.DoubleAck(ctx))
		}
		require.NoError(t, batch.Error())
	}
}

func requireTooMany(t *testing.T, status int, body string, hdr http.Header) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, status, body)
	require.JSONEq(t, `{"message":"429 Too Many Requests"}`, body)
	require.Equal(t, "5", hdr.Get("Retry-After"))
}

func TestTriggerQueueBeyondDepthIs429UntilItDrains(t *testing.T) {
	a, js := newTriggerAPIWith(t, Config{TriggerWait: time.Second, MaxQueueDepth: 5}, true)
	require.NoError(t, broker.EnsureStreams(context.Background(), js, broker.StreamConfig{}))
	id, tok := setupTriggerProject(t, a)
	trigger := func() (int, string, http.Header) {
		return a.do("POST", "/api/v4/projects/"+id+"/trigger/pipeline?token="+tok+"&ref=master&async=true", "", "", "")
	}
	webhook := func() (int, string, http.Header) {
		return a.do("POST", "/api/v4/projects/"+id+"/ref/master/trigger/pipeline?token="+tok, "", "", "")
	}

	// No dispatcher consumes: five events fill the queue to its depth.
	for i := 0; i < 5; i++ {
		status, body, _ := trigger()
		require.Equal(t, http.StatusAccepted, status, body)
	}
	require.Eventually(t, func() bool { n, known := a.srv.queue.Depth(); return known && n == 5 },
		5*time.Second, 5*time.Millisecond, "the background refresh sees the queue")

	status, body, hdr := trigger()
	requireTooMany(t, status, body, hdr)
	status, body, hdr = webhook()
	requireTooMany(t, status, body, hdr)
	require.Equal(t, uint64(5), storedTriggers(t, js), "a refused trigger publishes nothing")

	// A status URL is still answered: only new triggers are held back.
	status, _, _ = a.do("GET", "/api/v4/projects/"+id+"/trigger/events/unknown?token="+tok, "", "", "")
	require.Equal(t, http.StatusAccepted, status)

	drainTriggers(t, js)
	require.Eventually(t, func() bool { status, _, _ = trigger(); return status == http.StatusAccepted },
		5*time.Second, 10*time.Millisecond, "triggers are taken again once the queue drained")
	status, body, _ = webhook()
	require.Equal(t, http.StatusAccepted, status, body, "without a dispatcher the wait bound passes")
}

func TestTriggerStreamAtItsBoundIs429(t *testing.T) {
	// No depth limit in the ingress: the stream's own bound is the backstop.
	a, js := newTriggerAPIWith(t, Config{TriggerWait: time.Second}, false)
	require.NoError(t, broker.EnsureStreams(context.Background(), js, broker.StreamConfig{TriggersMaxMsgs: 2}))
	id, tok := setupTriggerProject(t, a)
	path := "/api/v4/projects/" + id + "/trigger/pipeline?token=" + tok + "&ref=master&async=true"
	for i := 0; i < 2; i++ {
		status, body, _ := a.do("POST", path, "", "", "")
		require.Equal(t, http.StatusAccepted, status, body)
	}
	status, body, hdr := a.do("POST", path, "", "", "")
	requireTooMany(t, status, body, hdr)
	require.Equal(t, uint64(2), storedTriggers(t, js))

	drainTriggers(t, js)
	status, body, _ = a.do("POST", path, "", "", "")
	require.Equal(t, http.StatusAccepted, status, body)
}

func TestTriggerVariableLimitsInEveryFormPublishNothing(t *testing.T) {
	a, js := newTriggerAPIWith(t, Config{TriggerWait: time.Second,
		VariableLimits: VariableLimits{MaxVariables: 2, MaxValueBytes: 8}}, false)
	require.NoError(t, broker.EnsureStreams(context.Background(), js, broker.StreamConfig{}))
	id, tok := setupTriggerProject(t, a)
	api := "/api/v4/projects/" + id + "/trigger/pipeline"
	tooMany := `{"message":"400 Bad request - too many variables (maximum is 2)"}`
	tooLong := `{"message":"400 Bad request - variables value of \"A\" is too long (maximum is 8 bytes)"}`
	badKey := `{"message":"400 Bad request - variables key \"A B\" can contain only letters, digits and '_'."}`

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for _, kv := range [][2]string{{"token", tok}, {"ref", "master"}, {"variables[A]", "1"}, {"variables[B]", "2"}, {"variables[C]", "3"}} {
		require.NoError(t, mw.WriteField(kv[0], kv[1]))
	}
	require.NoError(t, mw.Close())

	cases := []struct {
		name, path, ct, body, want string
	}{
		{"query", api + "?token=" + tok + "&ref=master&variables[A]=1&variables[B]=2&variables[C]=3", "", "", tooMany},
		{"form", api, "", "token=" + tok + "&ref=master&variables%5BA%5D=123456789", tooLong},
		{"query and form together", api + "?variables[A]=1&variables[B]=2", "", "token=" + tok + "&ref=master&variables%5BC%5D=3", tooMany},
		{"multipart", api, mw.FormDataContentType(), mp.String(), tooMany},
		{"json object", api, "application/json", fmt.Sprintf(`{"token":%q,"ref":"master","variables":{"A B":"1"}}`, tok), badKey},
		// GitLab's trigger API declares variables as a Hash: the
		// [{key,value}] array of the pipelines API is not taken here.
		{"json array", api, "application/json",
			fmt.Sprintf(`{"token":%q,"ref":"master","variables":[{"key":"A","value":"1"}]}`, tok), `{"error":"variables is invalid"}`},
		{"webhook", "/api/v4/projects/" + id + "/ref/master/trigger/pipeline?token=" + tok, "application/json",
			`{"ref":"refs/heads/x","variables":{"A":"123456789"}}`, tooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := a.do("POST", c.path, "", c.ct, c.body)
			require.Equal(t, http.StatusBadRequest, status, body)
			require.JSONEq(t, c.want, body)
		})
	}
	require.Zero(t, storedTriggers(t, js), "a rejected trigger publishes nothing")

	status, body, _ := a.do("POST", api+"?async=true", "", "application/json",
		fmt.Sprintf(`{"token":%q,"ref":"master","variables":{"A":"12345678","B_2":""}}`, tok))
	require.Equal(t, http.StatusAccepted, status, body)
	require.Equal(t, uint64(1), storedTriggers(t, js))
}
