// Package broker connects the service's processes to NATS JetStream: it
// dials (or, for the one-machine development stack, embeds) the server and
// declares the streams and consumers every process relies on, with settings
// that a NATS 2.9 server understands.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/event"
)

// Connect dials url and keeps reconnecting forever, so that a NATS restart is
// a pause, not an outage. The first connection is retried with backoff until
// ctx ends.
func Connect(ctx context.Context, url, name string, log *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(64 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	}
	var nc *nats.Conn
	bo := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithMaxElapsedTime(0), backoff.WithMaxInterval(5*time.Second)), ctx)
	err := backoff.Retry(func() error {
		var err error
		nc, err = nats.Connect(url, opts...)
		if err != nil {
			log.Warn("nats not reachable yet", "err", err)
		}
		return err
	}, bo)
	if err != nil {
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	return nc, nil
}

// StreamConfig sets how streams are created.
type StreamConfig struct {
	Replicas int
	// Duplicates is how long JetStream remembers message ids for
	// deduplication in the streams other than TRIGGERS.
	Duplicates time.Duration
	// TriggersDuplicates is TRIGGERS' duplicate window (default
	// DefaultTriggersDuplicates).
	TriggersDuplicates time.Duration
	// DeadMaxAge is how long dead trigger events are kept (default 30
	// days).
	DeadMaxAge time.Duration
	// TriggersMaxMsgs bounds the TRIGGERS stream (default
	// DefaultTriggersMaxMsgs): past it JetStream refuses new events
	// (DiscardNew) rather than growing without end, and IsStreamFull
	// recognises the refusal.
	TriggersMaxMsgs int64
}

// DefaultTriggersMaxMsgs is the hard bound of the TRIGGERS stream. It is a
// backstop behind the ingress's own queue-depth limit (default 100,000), so
// it is ten times that. It is a constant rather than a setting because every
// binary declares the streams, and the last one to start would otherwise
// impose its own value. There is no MaxBytes bound: JetStream reserves a
// stream's MaxBytes from the account's storage when the stream is created,
// which would make start-up fail on small disks.
const DefaultTriggersMaxMsgs = 1_000_000

// DefaultTriggersDuplicates is how long TRIGGERS remembers the message ids
// (event ids) of trigger events. It is shorter than the other streams'
// window because it is not what makes a trigger happen once: the unique
// pipelines.event_id is (docs/DECISIONS.md), and a repeat published past
// the window is answered with the stored pipeline. The window only spares
// the dispatchers a repeat of a recent event, and lets an ingress know that
// another published it. Every id is kept in the NATS server's memory for
// the whole window: at 10,000 triggers a second, two minutes were 1.2
// million ids.
const DefaultTriggersDuplicates = 30 * time.Second

// EnsureStreams creates or updates the TRIGGERS and JOBS streams.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) error {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.Duplicates == 0 {
		cfg.Duplicates = 2 * time.Minute
	}
	if cfg.TriggersDuplicates == 0 {
		cfg.TriggersDuplicates = DefaultTriggersDuplicates
	}
	if cfg.DeadMaxAge == 0 {
		cfg.DeadMaxAge = 30 * 24 * time.Hour
	}
	if cfg.TriggersMaxMsgs == 0 {
		cfg.TriggersMaxMsgs = DefaultTriggersMaxMsgs
	}
	streams := []jetstream.StreamConfig{
		{
			Name:        event.TriggersStream,
			Description: "Trigger events waiting for a dispatcher to create their pipeline.",
			Subjects:    []string{event.TriggerSubjectPrefix + ">", event.ScheduledSubjectPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.TriggersDuplicates,
			MaxMsgs:     cfg.TriggersMaxMsgs,
			Discard:     jetstream.DiscardNew,
		},
		{
			Name:        event.JobsStream,
			Description: "Jobs waiting for a runner.",
			Subjects:    []string{event.JobSubjectPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.Duplicates,
		},
		{
			Name:        event.JobEventsStream,
			Description: "Job traces and results from runners, and pipeline changes, for the dispatchers.",
			Subjects:    []string{event.JobEventSubjectPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.Duplicates,
		},
		{
			Name:        event.DeadStream,
			Description: "Trigger events that can never be decided, with their last error, for an admin to replay.",
			Subjects:    []string{event.DeadSubjectPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.Duplicates,
			MaxAge:      cfg.DeadMaxAge,
		},
	}
	for _, sc := range streams {
		if err := ensureStream(ctx, js, sc); err != nil {
			return err
		}
	}
	return nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	_, err := js.CreateStream(ctx, sc)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		_, err = js.UpdateStream(ctx, sc)
	}
	if err != nil {
		return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
	}
	return nil
}

// DispatcherConsumer is the durable pull consumer of ordinary trigger
// events every dispatcher shares.
func DispatcherConsumer(ctx context.Context, js jetstream.JetStream, ackWait time.Duration) (jetstream.Consumer, error) {
	return triggerConsumer(ctx, js, event.DispatcherConsumer, event.TriggerSubjectPrefix,
		"Dispatchers creating pipelines from trigger events.", ackWait)
}

// ScheduledConsumer is the durable pull consumer of the scheduler's events
// every dispatcher shares, apart from DispatcherConsumer so that neither
// waits behind the other.
func ScheduledConsumer(ctx context.Context, js jetstream.JetStream, ackWait time.Duration) (jetstream.Consumer, error) {
	return triggerConsumer(ctx, js, event.ScheduledConsumer, event.ScheduledSubjectPrefix,
		"Dispatchers creating pipelines from schedule slots.", ackWait)
}

func triggerConsumer(ctx context.Context, js jetstream.JetStream, durable, prefix, desc string, ackWait time.Duration) (jetstream.Consumer, error) {
	return ensureConsumer(ctx, js, event.TriggersStream, jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   desc,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 20000,
		FilterSubject: prefix + ">",
	})
}

// JobEventsConsumer is the durable pull consumer of job events every
// dispatcher shares.
func JobEventsConsumer(ctx context.Context, js jetstream.JetStream, ackWait time.Duration) (jetstream.Consumer, error) {
	return ensureConsumer(ctx, js, event.JobEventsStream, jetstream.ConsumerConfig{
		Durable:       event.JobEventsConsumer,
		Description:   "Dispatchers applying job traces and results.",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 20000,
		FilterSubject: event.JobEventSubjectPrefix + ">",
	})
}

// RunnerConsumer is the durable pull consumer every runner shares.
func RunnerConsumer(ctx context.Context, js jetstream.JetStream, ackWait time.Duration) (jetstream.Consumer, error) {
	return ensureConsumer(ctx, js, event.JobsStream, jetstream.ConsumerConfig{
		Durable:       event.RunnerConsumer,
		Description:   "Runners taking pending jobs.",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		FilterSubject: event.JobSubjectPrefix + ">",
	})
}

func ensureConsumer(ctx context.Context, js jetstream.JetStream, stream string, cc jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := js.CreateOrUpdateConsumer(ctx, stream, cc)
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s on %s: %w", cc.Durable, stream, err)
	}
	return c, nil
}

// Message is one message to publish with PublishAll.
type Message struct {
	Subject string
	Data    []byte
	// MsgID is the Nats-Msg-Id JetStream deduplicates by.
	MsgID string
}

// PublishAll publishes msgs without waiting between them and returns once
// JetStream has stored every one, or with the first failure (some of msgs
// may then be stored: a retry deduplicates by MsgID).
func PublishAll(ctx context.Context, js jetstream.JetStream, msgs []Message) error {
	acks := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		ack, err := js.PublishAsync(m.Subject, m.Data, jetstream.WithMsgID(m.MsgID))
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.MsgID, err)
		}
		acks = append(acks, ack)
	}
	for i, ack := range acks {
		select {
		case <-ack.Ok():
		case err := <-ack.Err():
			return fmt.Errorf("publish %s: %w", msgs[i].MsgID, err)
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w", msgs[i].MsgID, ctx.Err())
		}
	}
	return nil
}
