package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/testenv"
)

// TestDeadLetters: a malformed event and one that fails at every delivery
// end in the dead-letter stream with their last error, and a replay after
// the cause is fixed creates the pipeline.
func TestDeadLetters(t *testing.T) {
	f := newFixture(t, docsCI)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := testenv.NATS(t)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{}))
	cons, err := broker.DispatcherConsumer(ctx, js, 5*time.Second)
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w := New(Config{MaxDeliver: 2}, log, f.pool, nc, js, cons, nil)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// A branch whose commit names a CI config blob that is not stored:
	// reading it fails every time.
	_, err = f.pool.Exec(ctx, `INSERT INTO commits SELECT project_id, repeat('b', 40), parent_ids,
			'{".gitlab-ci.yml": "0000000000000000000000000000000000000000"}', title, message, author_name, author_email,
			authored_date, committer_name, committer_email, committed_date FROM commits WHERE project_id = $1 LIMIT 1;`, f.project)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `INSERT INTO refs (project_id, kind, name, commit_sha) VALUES ($1, 'branch', 'broken', repeat('b', 40))`, f.project)
	require.NoError(t, err)

	broken, err := json.Marshal(f.event("broken", "broken"))
	require.NoError(t, err)
	_, err = js.Publish(ctx, event.TriggerSubject(f.project), broken)
	require.NoError(t, err)
	_, err = js.Publish(ctx, event.TriggerSubject(f.project), []byte(`{"event_id": 7`))
	require.NoError(t, err)

	var dead []broker.DeadLetter
	deadline := time.Now().Add(20 * time.Second)
	for len(dead) < 2 {
		require.True(t, time.Now().Before(deadline), "both events dead-lettered; have %d", len(dead))
		time.Sleep(50 * time.Millisecond)
		dead, err = broker.DeadLetters(ctx, js, 0, 10)
		require.NoError(t, err)
	}
	n, err := broker.CountDeadLetters(ctx, js)
	require.NoError(t, err)
	require.Equal(t, uint64(2), n)
	var failing, malformed broker.DeadLetter
	for _, d := range dead {
		if string(d.Data) == string(broken) {
			failing = d
		} else {
			malformed = d
		}
	}
	require.Contains(t, failing.Error, "read CI config blob")
	require.Equal(t, uint64(2), failing.Deliveries)
	require.Equal(t, event.TriggerSubject(f.project), failing.Subject)
	require.False(t, failing.Published.IsZero())
	require.Contains(t, malformed.Error, "malformed trigger event")
	require.Equal(t, uint64(1), malformed.Deliveries)

	// Both left the TRIGGERS stream.
	st, err := js.Stream(ctx, event.TriggersStream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs)

	// Fix the cause, replay: the pipeline is created, the letter is gone.
	_, err = f.pool.Exec(ctx, `INSERT INTO blobs (sha, content) VALUES (repeat('0', 40), $1)`, []byte(docsCI))
	require.NoError(t, err)
	require.NoError(t, broker.ReplayDeadLetter(ctx, js, failing))
	deadline = time.Now().Add(20 * time.Second)
	for {
		var count int
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM pipelines WHERE event_id = 'broken'`).Scan(&count))
		if count == 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the replayed event created its pipeline")
		time.Sleep(50 * time.Millisecond)
	}
	_, err = broker.GetDeadLetter(ctx, js, failing.Seq)
	require.ErrorIs(t, err, jetstream.ErrMsgNotFound)
	rest, err := broker.DeadLetters(ctx, js, 0, 10)
	require.NoError(t, err)
	require.Len(t, rest, 1)
	require.Equal(t, malformed.Seq, rest[0].Seq)
}
