package relay

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestPublishDeduplicatesAndOutcomeReachesEveryWaiter(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NATS(t)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{}))

	var invalidated []event.Invalidation
	got := make(chan struct{}, 1)
	r, err := New(nc, js, slog.New(slog.NewTextHandler(io.Discard, nil)), func(inv event.Invalidation) {
		invalidated = append(invalidated, inv)
		got <- struct{}{}
	})
	require.NoError(t, err)
	defer r.Close()

	ev := &event.TriggerRequested{EventID: "e1", ProjectID: 7, Ref: "main", Source: "trigger"}
	first, cancel1 := r.Await("e1")
	defer cancel1()
	second, cancel2 := r.Await("e1")
	defer cancel2()
	dup, err := r.PublishTrigger(ctx, ev)
	require.NoError(t, err)
	require.False(t, dup)
	dup, err = r.PublishTrigger(ctx, ev)
	require.NoError(t, err)
	require.True(t, dup, "the same event id is stored once")

	// The stored message names this relay's reply subject; answer on it as
	// a dispatcher does.
	cons, err := broker.DispatcherConsumer(ctx, js, time.Minute)
	require.NoError(t, err)
	batch, err := cons.Fetch(10, jetstream.FetchMaxWait(2*time.Second))
	require.NoError(t, err)
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	require.Len(t, msgs, 1)
	require.NotEmpty(t, msgs[0].Headers().Get(event.HeaderReplyBare), "the relay asks for bare outcomes")
	reply, err := event.Outcome{EventID: "e1", Status: 404, Body: json.RawMessage(`{"message":"404 Not Found"}`)}.Message(
		msgs[0].Headers().Get(event.HeaderReplyTo), "http://unused")
	require.NoError(t, err)
	require.NoError(t, nc.PublishMsg(reply))
	require.NoError(t, msgs[0].Ack())
	expect := func(ch <-chan event.Outcome, status int, body string) {
		t.Helper()
		select {
		case o := <-ch:
			require.Equal(t, status, o.Status)
			require.JSONEq(t, body, string(o.Body))
		case <-time.After(5 * time.Second):
			t.Fatal("no outcome")
		}
	}
	expect(first, 404, `{"message":"404 Not Found"}`)
	expect(second, 404, `{"message":"404 Not Found"}`)

	// A dispatcher that predates bare outcomes answers in JSON.
	third, cancel3 := r.Await("e2")
	defer cancel3()
	data, err := json.Marshal(event.Outcome{EventID: "e2", Status: 400, Body: json.RawMessage(`{"message":"bad"}`)})
	require.NoError(t, err)
	require.NoError(t, nc.Publish(strings.TrimSuffix(msgs[0].Headers().Get(event.HeaderReplyTo), "e1")+"e2", data))
	expect(third, 400, `{"message":"bad"}`)

	r.Invalidate(ctx, event.Invalidation{ProjectID: 7, Ref: "main"})
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no invalidation")
	}
	require.Equal(t, []event.Invalidation{{ProjectID: 7, Ref: "main"}}, invalidated)
}
