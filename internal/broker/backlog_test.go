package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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

func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := testenv.JetStream(t)
	return js
}

func publishTriggers(t *testing.T, js jetstream.JetStream, from, n int) error {
	t.Helper()
	return publish(t, js, event.TriggerSubject(1), from, n)
}

func publish(t *testing.T, js jetstream.JetStream, subject string, from, n int) error {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := js.Publish(context.Background(), subject, []byte("{}"),
			jetstream.WithMsgID(fmt.Sprint("e", i))); err != nil {
			return err
		}
	}
	return nil
}

func waitDepth(t *testing.T, b *broker.Backlog, want int64, known bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		n, k := b.Depth()
		return k == known && (!known || n == want)
	}, 5*time.Second, 5*time.Millisecond)
}

func TestBacklogFollowsTheConsumerAndFailsOpen(t *testing.T) {
	js := jetStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	b := broker.NewBacklog(js, event.TriggersStream, event.DispatcherConsumer, 10*time.Millisecond,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// No stream yet: unknown, so nobody is held back.
	n, known := b.Depth()
	require.False(t, known)
	require.Zero(t, n)
	require.Never(t, func() bool { _, known := b.Depth(); return known }, 50*time.Millisecond, 5*time.Millisecond,
		"refreshes keep failing while there is no stream")

	// No dispatcher has created its consumer yet: every stored message
	// waits.
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{}))
	waitDepth(t, b, 0, true)
	require.NoError(t, publishTriggers(t, js, 0, 3))
	require.NoError(t, publish(t, js, event.ScheduledSubject(1), 100, 2))
	waitDepth(t, b, 5, true)

	// Once it exists, only its own backlog counts, not the schedule
	// slots, and an acknowledged event leaves it.
	c, err := broker.DispatcherConsumer(ctx, js, time.Minute)
	require.NoError(t, err)
	waitDepth(t, b, 3, true)
	batch, err := c.Fetch(2)
	require.NoError(t, err)
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	require.Len(t, msgs, 2)
	waitDepth(t, b, 3, true) // delivered, not acknowledged: still waiting
	for _, m := range msgs {
		require.NoError(t, m.DoubleAck(ctx))
	}
	waitDepth(t, b, 1, true)

	require.NoError(t, js.DeleteStream(ctx, event.TriggersStream))
	waitDepth(t, b, 0, false)
}

func TestTriggersStreamRefusesPastItsBound(t *testing.T) {
	js := jetStream(t)
	ctx := context.Background()
	// Declared first without the small bound, as an older version did:
	// declaring it again applies the bound to the existing stream.
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{}))
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{TriggersMaxMsgs: 2}))
	require.NoError(t, publishTriggers(t, js, 0, 2))
	err := publishTriggers(t, js, 2, 1)
	require.Error(t, err)
	require.True(t, broker.IsStreamFull(err), "got %v", err)
	require.False(t, broker.IsTooLarge(err))

	// A repeated id is still deduplicated, not refused.
	require.NoError(t, publishTriggers(t, js, 1, 1))

	info, err := js.Stream(ctx, event.TriggersStream)
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.CachedInfo().State.Msgs, "the refused event was not stored")

	require.False(t, broker.IsStreamFull(fmt.Errorf("publish: %w", nats.ErrTimeout)))
	require.True(t, broker.IsTooLarge(fmt.Errorf("publish: %w", nats.ErrMaxPayload)))
}

// TRIGGERS keeps event ids for DefaultTriggersDuplicates, also when it was
// created with the longer window of the other streams, which keep theirs.
func TestTriggersDuplicateWindow(t *testing.T) {
	js := jetStream(t)
	ctx := context.Background()
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{TriggersDuplicates: 2 * time.Minute}))
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{}))
	for name, want := range map[string]time.Duration{
		event.TriggersStream:  broker.DefaultTriggersDuplicates,
		event.JobsStream:      2 * time.Minute,
		event.JobEventsStream: 2 * time.Minute,
	} {
		info, err := js.Stream(ctx, name)
		require.NoError(t, err)
		require.Equal(t, want, info.CachedInfo().Config.Duplicates, name)
	}
}
