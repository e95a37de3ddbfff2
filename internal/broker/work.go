package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// WorkOptions tune Work.
type WorkOptions struct {
	// Name says what is consumed, for errors and logs ("trigger events").
	Name string
	// Concurrency is how many handlers run at once.
	Concurrency int
	// MaxBatch is how many messages WorkBatches gives a handler at most
	// (default 1).
	MaxBatch int
	// PullMax is how many messages are pulled ahead (default
	// 2×Concurrency×MaxBatch).
	PullMax int
	// DrainWait bounds the wait for the consumer to drain at shutdown
	// (default 20 s).
	DrainWait time.Duration
	// Grace, when set, bounds how long handlers still running at shutdown
	// may take before their context is cancelled; zero lets them finish.
	Grace time.Duration
	// Interval, when set, paces the first handler while its batches are
	// small: a batch of fewer than Fill messages is followed by a wait
	// until Interval has passed since it began, which ends early once
	// Fill messages wait. Fill defaults to MaxBatch/4.
	Interval time.Duration
	Fill     int
	Log      *slog.Logger
}

// Work consumes cons with opts.Concurrency handlers until ctx ends, then
// stops pulling, drains, and waits for the handlers. Handlers get a context
// that outlives ctx (work that started finishes), cancelled only after
// opts.Grace. A message pulled but not yet handled when ctx ends is left
// unacknowledged: JetStream redelivers it after its AckWait.
func Work(ctx context.Context, cons jetstream.Consumer, opts WorkOptions, handle func(context.Context, jetstream.Msg)) error {
	opts.MaxBatch = 1
	return WorkBatches(ctx, cons, opts, func(ctx context.Context, ms []jetstream.Msg) func() {
		handle(ctx, ms[0])
		return nil
	})
}

// WorkBatches is Work handing each handler every message already pulled,
// up to opts.MaxBatch at once: a handler never waits for a batch to fill,
// so batches grow with the load and a lone message is handled at once.
//
// A handler may return a follow-up (or nil): what is left to do for its
// batch that the next batch need not wait for, such as publishing and
// acknowledging. The follow-up runs while the same handler goroutine takes
// its next batch; each goroutine has at most one follow-up running and
// waits for it before starting another, and for the last before it stops.
//
// With batches, the first handler takes whatever has been pulled, and the
// others join only while at least half a batch waits (see helperBacklog).
// Under light load one handler sees every message, so batches stay as large
// as the load makes them and no two transactions compete for the same rows;
// once one handler cannot keep up, the others take the backlog in batches
// of their own and overlap their round trips with the first one's.
//
// With opts.Interval, a busy first handler does not turn every few
// messages into a batch of their own: after a batch of fewer than
// opts.Fill, it waits until opts.Interval has passed since that batch
// began, or until opts.Fill messages wait. A batch costs about the same
// few round trips whatever its size, so at moderate rates this trades a
// few milliseconds of latency for far fewer transactions; a lone message
// after a quiet spell is still handled at once.
func WorkBatches(ctx context.Context, cons jetstream.Consumer, opts WorkOptions, handle func(context.Context, []jetstream.Msg) (followUp func())) error {
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	if opts.MaxBatch < 1 {
		opts.MaxBatch = 1
	}
	if opts.PullMax < 1 {
		opts.PullMax = 2 * opts.Concurrency * opts.MaxBatch
	}
	if opts.DrainWait <= 0 {
		opts.DrainWait = 20 * time.Second
	}
	// With batches, pulled messages wait in the channel so that a handler
	// finds them all at once.
	buffer := 0
	if opts.MaxBatch > 1 {
		buffer = opts.PullMax
	}
	msgs := make(chan jetstream.Msg, buffer)
	// backlog wakes a helper when msgs holds helperBacklog messages or more;
	// stopped tells the helpers that msgs is closed.
	backlog, stopped := make(chan struct{}, 1), make(chan struct{})
	minBacklog := helperBacklog(opts.MaxBatch)
	if opts.Fill < 1 {
		opts.Fill = max(1, opts.MaxBatch/4)
	}
	paced := opts.Interval > 0 && opts.MaxBatch > 1
	filled := make(chan struct{}, 1)
	helpers := opts.Concurrency > 1 && opts.MaxBatch > 1
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	for i := 0; i < opts.Concurrency; i++ {
		wg.Add(1)
		receive := func() (jetstream.Msg, bool) { m, ok := <-msgs; return m, ok }
		if i > 0 && helpers {
			receive = func() (jetstream.Msg, bool) { return receiveBacklogged(msgs, backlog, stopped, minBacklog) }
		}
		pace := i == 0 && paced
		go func() {
			defer wg.Done()
			var previous chan struct{} // closed when the last follow-up is done
			var pauseUntil time.Time   // when a paced handler may take its next batch
			for {
				if !pauseUntil.IsZero() {
					waitFill(msgs, filled, stopped, opts.Fill, pauseUntil)
				}
				m, ok := receive()
				if !ok {
					break
				}
				began := time.Now()
				batch := takeBatch(m, msgs, opts.MaxBatch)
				next := handle(workCtx, batch)
				pauseUntil = time.Time{}
				if pace && len(batch) < opts.Fill {
					pauseUntil = began.Add(opts.Interval)
				}
				if next == nil {
					continue
				}
				if previous != nil {
					<-previous
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					next()
				}()
				previous = done
			}
			if previous != nil {
				<-previous
			}
		}()
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-ctx.Done():
			return
		}
		if helpers && len(msgs) >= minBacklog {
			notify(backlog)
		}
		if paced && len(msgs) >= opts.Fill {
			notify(filled)
		}
	}, jetstream.PullMaxMessages(opts.PullMax), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		opts.Log.Warn("consume "+opts.Name, "err", err)
	}))
	if err != nil {
		close(msgs)
		close(stopped)
		wg.Wait()
		return fmt.Errorf("consume %s: %w", opts.Name, err)
	}
	opts.Log.Info("consuming "+opts.Name, "concurrency", opts.Concurrency)
	<-ctx.Done()

	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(opts.DrainWait):
	}
	close(msgs)
	close(stopped)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if opts.Grace > 0 {
		select {
		case <-done:
		case <-time.After(opts.Grace):
			cancelWork()
		}
	}
	<-done
	return nil
}

// notify signals c unless a signal already waits there.
func notify(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// helperBacklog is how many pulled messages must wait before a second
// handler starts a batch of its own: half a batch, so that a helper's batch
// is large enough to be worth its round trips.
func helperBacklog(maxBatch int) int { return max(1, maxBatch/2) }

// receiveBacklogged is a helper handler's next message: it waits until msgs
// holds least messages or more (backlog is signalled when it may), and
// reports false once stopped is closed. A helper leaves a short queue to
// the first handler even after a wake-up, since that one may have emptied
// it meanwhile.
func receiveBacklogged(msgs <-chan jetstream.Msg, backlog, stopped <-chan struct{}, least int) (jetstream.Msg, bool) {
	for awaitLen(msgs, backlog, stopped, nil, least) {
		select {
		case m, ok := <-msgs:
			return m, ok
		default:
		}
	}
	return nil, false
}

// waitFill waits until msgs holds fill messages or more (filled is
// signalled when it may), deadline passes, or stopped is closed.
func waitFill(msgs <-chan jetstream.Msg, filled, stopped <-chan struct{}, fill int, deadline time.Time) {
	wait := time.Until(deadline)
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	awaitLen(msgs, filled, stopped, t.C, fill)
}

// awaitLen waits until msgs holds n messages or more, checking again each
// time signal fires, and reports whether it does; it gives up, reporting
// false, once stopped is closed or timeout fires (nil: never).
func awaitLen(msgs <-chan jetstream.Msg, signal, stopped <-chan struct{}, timeout <-chan time.Time, n int) bool {
	for len(msgs) < n {
		select {
		case <-signal:
		case <-timeout:
			return false
		case <-stopped:
			return false
		}
	}
	return true
}

// takeBatch is first and whatever else msgs holds right now, up to max.
func takeBatch(first jetstream.Msg, msgs <-chan jetstream.Msg, max int) []jetstream.Msg {
	batch := []jetstream.Msg{first}
	for len(batch) < max {
		select {
		case m, ok := <-msgs:
			if !ok {
				return batch
			}
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}
