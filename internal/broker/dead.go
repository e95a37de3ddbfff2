package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/event"
)

// DeadLetter is a trigger event kept in the dead-letter stream.
type DeadLetter struct {
	// Seq is its sequence in the dead-letter stream: its id.
	Seq        uint64
	Subject    string // the subject it was published on
	Data       []byte // the event as published
	Error      string // the last error
	Deliveries uint64
	// Published is when the event was first published; DeadAt when it was
	// given up.
	Published time.Time
	DeadAt    time.Time
}

// KillTrigger moves a trigger event that can never be decided to the
// dead-letter stream with why, then terminates it on its own stream. The
// dead letter's message id is the event's stream sequence, so a repeat
// (the term lost, the event redelivered and failing again) keeps one copy.
func KillTrigger(ctx context.Context, js jetstream.JetStream, m jetstream.Msg, projectID int64, why error) error {
	dead := nats.NewMsg(event.DeadSubject(projectID))
	dead.Data = m.Data()
	dead.Header.Set(event.HeaderDeadError, why.Error())
	dead.Header.Set(event.HeaderDeadSubject, m.Subject())
	id := "dead-" + m.Subject()
	if md, err := m.Metadata(); err == nil {
		dead.Header.Set(event.HeaderDeadDeliveries, strconv.FormatUint(md.NumDelivered, 10))
		dead.Header.Set(event.HeaderDeadPublished, md.Timestamp.UTC().Format(time.RFC3339Nano))
		id = "dead-" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	if _, err := js.PublishMsg(ctx, dead, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("keep dead trigger event: %w", err)
	}
	return m.Term()
}

// DeadLetters returns up to limit dead letters, oldest first, after
// skipping skip of them. Each is one read of the stream: listing is for an
// admin, not for a hot path.
func DeadLetters(ctx context.Context, js jetstream.JetStream, skip, limit int) ([]DeadLetter, error) {
	stream, err := js.Stream(ctx, event.DeadStream)
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream: %w", err)
	}
	var out []DeadLetter
	for seq := uint64(1); len(out) < limit; {
		// The next message at or after seq: replayed ones leave gaps.
		raw, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(event.DeadSubjectPrefix+">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read dead letter %d: %w", seq, err)
		}
		seq = raw.Sequence + 1
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, deadLetter(raw))
	}
	return out, nil
}

// CountDeadLetters is how many dead letters there are.
func CountDeadLetters(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	stream, err := js.Stream(ctx, event.DeadStream)
	if err != nil {
		return 0, fmt.Errorf("dead-letter stream: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("dead-letter stream: %w", err)
	}
	return info.State.Msgs, nil
}

// GetDeadLetter returns one dead letter; jetstream.ErrMsgNotFound when there
// is none with that sequence.
func GetDeadLetter(ctx context.Context, js jetstream.JetStream, seq uint64) (DeadLetter, error) {
	stream, err := js.Stream(ctx, event.DeadStream)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead-letter stream: %w", err)
	}
	raw, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return DeadLetter{}, err
	}
	return deadLetter(raw), nil
}

// ReplayDeadLetter publishes a dead letter's event again on the subject it
// came from, under a message id of its own (the event id is unchanged, so
// a pipeline it did create is found, not made twice), and then removes it
// from the dead-letter stream.
func ReplayDeadLetter(ctx context.Context, js jetstream.JetStream, d DeadLetter) error {
	msg := nats.NewMsg(d.Subject)
	msg.Data = d.Data
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID("replay-"+strconv.FormatUint(d.Seq, 10))); err != nil {
		return fmt.Errorf("replay dead letter %d: %w", d.Seq, err)
	}
	stream, err := js.Stream(ctx, event.DeadStream)
	if err != nil {
		return fmt.Errorf("dead-letter stream: %w", err)
	}
	if err := stream.DeleteMsg(ctx, d.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("remove replayed dead letter %d: %w", d.Seq, err)
	}
	return nil
}

func deadLetter(raw *jetstream.RawStreamMsg) DeadLetter {
	d := DeadLetter{Seq: raw.Sequence, Data: raw.Data, DeadAt: raw.Time, Subject: raw.Header.Get(event.HeaderDeadSubject),
		Error: raw.Header.Get(event.HeaderDeadError)}
	d.Deliveries, _ = strconv.ParseUint(raw.Header.Get(event.HeaderDeadDeliveries), 10, 64)
	d.Published, _ = time.Parse(time.RFC3339Nano, raw.Header.Get(event.HeaderDeadPublished))
	return d
}
