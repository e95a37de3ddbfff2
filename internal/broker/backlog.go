package broker

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Backlog is the number of messages a durable consumer has not finished,
// kept fresh by one background loop so that the request path reads it with
// an atomic load and never asks the server.
//
// It is the consumer's NumPending + NumAckPending: messages not yet
// delivered plus delivered and not yet acknowledged, which is one
// CONSUMER.INFO request that the server answers from counters it keeps. The
// stream's message count would be cheaper still, but TRIGGERS also holds the
// scheduler's slots, which have a consumer of their own: a midnight cron
// burst must not turn API triggers away. Until a dispatcher has created the
// consumer nothing is being processed, so the depth is then the stream's
// whole message count.
//
// Safe for concurrent use.
type Backlog struct {
	js       jetstream.JetStream
	stream   string
	consumer string
	every    time.Duration
	log      *slog.Logger
	// depth is the last count, or -1 while it is unknown (not fetched
	// yet, or the last fetch failed).
	depth atomic.Int64
}

// NewBacklog returns the Backlog of the durable consumer on stream, which
// Run refreshes every interval (default 500 ms).
func NewBacklog(js jetstream.JetStream, stream, consumer string, every time.Duration, log *slog.Logger) *Backlog {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	b := &Backlog{js: js, stream: stream, consumer: consumer, every: every, log: log}
	b.depth.Store(-1)
	return b
}

// Depth returns the last known number of waiting messages; known is false
// when the last refresh failed or none has finished yet, and callers then
// must not hold requests back (fail open).
func (b *Backlog) Depth() (n int64, known bool) {
	n = b.depth.Load()
	if n < 0 {
		return 0, false
	}
	return n, true
}

// Run refreshes the depth until ctx ends. A failure makes the depth unknown
// and is logged once, when it starts; the recovery is logged too.
func (b *Backlog) Run(ctx context.Context) {
	t := time.NewTicker(b.every)
	defer t.Stop()
	failing := false
	for {
		err := b.refresh(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			b.log.WarnContext(ctx, "queue depth unknown; trigger requests are not held back until it is read again",
				"stream", b.stream, "consumer", b.consumer, "err", err)
		case err == nil && failing:
			failing = false
			b.log.InfoContext(ctx, "queue depth known again", "stream", b.stream, "consumer", b.consumer)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Backlog) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	n, err := b.fetch(ctx)
	if err != nil {
		b.depth.Store(-1)
		return err
	}
	b.depth.Store(n)
	return nil
}

func (b *Backlog) fetch(ctx context.Context) (int64, error) {
	c, err := b.js.Consumer(ctx, b.stream, b.consumer)
	if err == nil {
		return unfinished(c.CachedInfo()), nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, err
	}
	st, err := b.js.Stream(ctx, b.stream)
	if err != nil {
		return 0, err
	}
	return int64(st.CachedInfo().State.Msgs), nil
}

// Unfinished asks the server how many messages cons has not finished:
// not yet delivered, or delivered and not yet acknowledged.
func Unfinished(ctx context.Context, cons jetstream.Consumer) (int64, error) {
	ci, err := cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return unfinished(ci), nil
}

func unfinished(ci *jetstream.ConsumerInfo) int64 {
	return int64(ci.NumPending) + int64(ci.NumAckPending)
}

// JetStream's error code for a message it could not store; the description
// tells why.
const errCodeStoreFailed jetstream.ErrorCode = 10077

// IsStreamFull reports whether err is JetStream refusing a publish because
// the stream is at its MaxMsgs or MaxBytes bound with DiscardNew: the client
// should come back later, nothing is wrong with the message.
func IsStreamFull(err error) bool {
	var ae *jetstream.APIError
	if !errors.As(err, &ae) || ae.ErrorCode != errCodeStoreFailed {
		return false
	}
	return ae.Description == "maximum messages exceeded" || ae.Description == "maximum bytes exceeded"
}

// IsTooLarge reports whether err is a publish refused for the message's
// size: larger than the server's max_payload, or the stream's MaxMsgSize.
// Sending it again cannot succeed.
func IsTooLarge(err error) bool {
	var ae *jetstream.APIError
	if errors.As(err, &ae) && ae.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
		return true
	}
	return errors.Is(err, nats.ErrMaxPayload)
}
