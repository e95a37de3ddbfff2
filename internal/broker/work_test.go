package broker_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
)

// A batch's follow-up runs while its goroutine takes the next batch; the
// next follow-up waits for it, and WorkBatches returns only after the last.
func TestWorkBatchesOverlapsFollowUps(t *testing.T) {
	ctx, cancel, js, cons := workConsumer(t)

	batches := make(chan int, 10)
	release := make(chan struct{})
	var handled atomic.Int32
	var firstDone, secondStarted, secondDone atomic.Bool
	handle := func(_ context.Context, msgs []jetstream.Msg) func() {
		n := int(handled.Add(1))
		batches <- n
		return func() {
			if n == 1 {
				<-release
				firstDone.Store(true)
			} else {
				secondStarted.Store(true)
				require.True(t, firstDone.Load(), "a follow-up started before the previous one ended")
				secondDone.Store(true)
			}
			for _, m := range msgs {
				_ = m.Ack()
			}
		}
	}
	returned := startWorkBatches(ctx, cons, broker.WorkOptions{Concurrency: 1}, handle)

	require.NoError(t, publishTriggers(t, js, 0, 1))
	require.Equal(t, 1, <-batches)
	// The first follow-up is blocked; the next batch is handled anyway.
	require.NoError(t, publishTriggers(t, js, 1, 1))
	select {
	case n := <-batches:
		require.Equal(t, 2, n)
	case <-time.After(5 * time.Second):
		t.Fatal("the second batch waited for the first batch's follow-up")
	}
	require.Never(t, secondStarted.Load, 100*time.Millisecond, 10*time.Millisecond,
		"the second follow-up ran while the first was still running")

	cancel()
	select {
	case <-returned:
		t.Fatal("WorkBatches returned before its follow-ups ran")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	requireReturned(t, returned)
	require.True(t, secondDone.Load())
}

// A second handler starts a batch only while half a batch waits: a short
// queue behind a busy handler is left to it, a long one is taken at once.
func TestWorkBatchesHelperTakesOnlyABacklog(t *testing.T) {
	ctx, cancel, js, cons := workConsumer(t)

	sizes := make(chan int, 10)
	release := make(chan struct{})
	var calls atomic.Int32
	handle := func(_ context.Context, msgs []jetstream.Msg) func() {
		sizes <- len(msgs)
		if calls.Add(1) == 1 {
			<-release // the first handler stays busy
		}
		for _, m := range msgs {
			_ = m.Ack()
		}
		return nil
	}
	returned := startWorkBatches(ctx, cons, broker.WorkOptions{Concurrency: 2}, handle)

	require.NoError(t, publishTriggers(t, js, 0, 1))
	require.Equal(t, 1, <-sizes)
	require.NoError(t, publishTriggers(t, js, 1, 3))
	require.Never(t, func() bool { return len(sizes) > 0 }, 300*time.Millisecond, 10*time.Millisecond,
		"a second handler took a queue shorter than half a batch")
	require.NoError(t, publishTriggers(t, js, 4, 1))
	select {
	case n := <-sizes:
		require.Equal(t, 4, n, "the helper takes the whole backlog")
	case <-time.After(5 * time.Second):
		t.Fatal("no second handler took a backlog of half a batch")
	}

	close(release)
	cancel()
	requireReturned(t, returned)
	require.EqualValues(t, 2, calls.Load())
}

// While its batches are small, the first handler starts one at most every
// Interval, so that what arrives meanwhile is decided together; once Fill
// messages wait, it starts at once.
func TestWorkBatchesPacesSmallBatches(t *testing.T) {
	ctx, cancel, js, cons := workConsumer(t)

	type batch struct {
		size int
		at   time.Time
	}
	batches := make(chan batch, 10)
	handle := func(_ context.Context, msgs []jetstream.Msg) func() {
		batches <- batch{len(msgs), time.Now()}
		for _, m := range msgs {
			_ = m.Ack()
		}
		return nil
	}
	next := func() batch {
		t.Helper()
		select {
		case b := <-batches:
			return b
		case <-time.After(10 * time.Second):
			t.Fatal("no batch was handled")
			return batch{}
		}
	}
	const interval = 2 * time.Second
	returned := startWorkBatches(ctx, cons, broker.WorkOptions{Concurrency: 1, Interval: interval, Fill: 4}, handle)

	require.NoError(t, publishTriggers(t, js, 0, 1))
	first := next()
	require.Equal(t, 1, first.size, "a lone message is handled at once")
	require.NoError(t, publishTriggers(t, js, 1, 1))
	require.NoError(t, publishTriggers(t, js, 2, 1))
	second := next()
	require.Equal(t, 2, second.size, "what arrives during the interval is handled together")
	// The interval counts from when the first batch began, a moment
	// before the handler noted it.
	require.GreaterOrEqual(t, second.at.Sub(first.at), interval-100*time.Millisecond, "a small batch did not wait for the interval")
	require.NoError(t, publishTriggers(t, js, 3, 4))
	third := next()
	require.Equal(t, 4, third.size)
	require.Less(t, third.at.Sub(second.at), interval/2, "a full batch waited for the interval")

	cancel()
	requireReturned(t, returned)
}

// workConsumer is a JetStream with the streams and the dispatcher's
// consumer, and a context that the test may cancel early.
func workConsumer(t *testing.T) (context.Context, context.CancelFunc, jetstream.JetStream, jetstream.Consumer) {
	t.Helper()
	js := jetStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, broker.EnsureStreams(ctx, js, broker.StreamConfig{}))
	cons, err := broker.DispatcherConsumer(ctx, js, time.Minute)
	require.NoError(t, err)
	return ctx, cancel, js, cons
}

// startWorkBatches runs WorkBatches with opts and batches of at most 8;
// its error arrives on the returned channel.
func startWorkBatches(ctx context.Context, cons jetstream.Consumer, opts broker.WorkOptions, handle func(context.Context, []jetstream.Msg) func()) <-chan error {
	opts.Name, opts.MaxBatch, opts.DrainWait, opts.Log = "test", 8, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil))
	returned := make(chan error, 1)
	go func() { returned <- broker.WorkBatches(ctx, cons, opts, handle) }()
	return returned
}

func requireReturned(t *testing.T, returned <-chan error) {
	t.Helper()
	select {
	case err := <-returned:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("WorkBatches did not return")
	}
}
