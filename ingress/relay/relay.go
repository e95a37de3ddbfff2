// Package relay is the ingress's link to NATS: it publishes trigger events to
// JetStream, routes each dispatcher outcome to the request waiting for it,
// and carries cache invalidations between ingress replicas.
//
// Each ingress process has an instance id and one subscription to the
// outcome subjects of that id; a published event names its reply subject in
// a header, so the dispatcher's answer reaches exactly the process that
// waits, however many ingress replicas there are.
package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triggerd/triggerd/internal/event"
)

// Relay implements the API's Publisher over NATS. Safe for concurrent use.
type Relay struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	log      *slog.Logger
	prefix   string // this instance's outcome subject prefix, ending in "."
	outcomes *nats.Subscription
	inval    *nats.Subscription

	mu      sync.Mutex
	waiters map[string][]chan event.Outcome
}

// New subscribes to this instance's outcomes and to cache invalidations,
// which are passed to onInvalidate.
func New(nc *nats.Conn, js jetstream.JetStream, log *slog.Logger, onInvalidate func(event.Invalidation)) (*Relay, error) {
	r := &Relay{
		nc: nc, js: js, log: log,
		prefix:  event.OutcomeSubjectPrefix + strings.ReplaceAll(uuid.NewString(), "-", "") + ".",
		waiters: map[string][]chan event.Outcome{},
	}
	var err error
	r.outcomes, err = nc.Subscribe(r.prefix+"*", r.deliver)
	if err != nil {
		return nil, fmt.Errorf("subscribe to outcomes: %w", err)
	}
	// A slow consumer must not drop outcomes silently while requests
	// wait: allow a deep pending queue.
	if err := r.outcomes.SetPendingLimits(1<<20, 256<<20); err != nil {
		return nil, fmt.Errorf("outcome subscription limits: %w", err)
	}
	r.inval, err = nc.Subscribe(event.InvalidateSubject, func(m *nats.Msg) {
		var inv event.Invalidation
		if err := json.Unmarshal(m.Data, &inv); err != nil {
			log.Warn("bad cache invalidation", "err", err)
			return
		}
		onInvalidate(inv)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to invalidations: %w", err)
	}
	return r, nil
}

// Close unsubscribes. Waiters still registered time out on their own.
func (r *Relay) Close() {
	_ = r.outcomes.Unsubscribe()
	_ = r.inval.Unsubscribe()
}

func (r *Relay) deliver(m *nats.Msg) {
	// The subject ends in the event id: route first, and decode only what
	// someone waits for. A bare outcome needs no decoding; a JSON one is
	// decoded on a goroutine of its own, so that this one subscription does
	// not decode every answer of the process in turn.
	eventID := strings.TrimPrefix(m.Subject, r.prefix)
	r.mu.Lock()
	chans := r.waiters[eventID]
	delete(r.waiters, eventID)
	r.mu.Unlock()
	if len(chans) == 0 {
		return
	}
	hand := func(o event.Outcome) {
		for _, ch := range chans {
			ch <- o // buffered, one outcome each
		}
	}
	if o, ok := event.BareOutcome(eventID, m); ok {
		hand(o)
		return
	}
	// A JSON outcome, from a dispatcher that predates bare replies.
	go func() {
		var o event.Outcome
		if err := json.Unmarshal(m.Data, &o); err != nil {
			r.log.Warn("bad outcome message", "subject", m.Subject, "err", err)
			return
		}
		hand(o)
	}()
}

// Await registers interest in an event's outcome. Several requests may wait
// for the same event (a client retrying with the same idempotency key); each
// gets the outcome.
func (r *Relay) Await(eventID string) (<-chan event.Outcome, func()) {
	ch := make(chan event.Outcome, 1)
	r.mu.Lock()
	r.waiters[eventID] = append(r.waiters[eventID], ch)
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		list := r.waiters[eventID]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(r.waiters, eventID)
		} else {
			r.waiters[eventID] = list
		}
	}
}

// PublishTrigger stores ev in the TRIGGERS stream with the event id as
// Nats-Msg-Id, so a repeated publish of the same event is deduplicated.
func (r *Relay) PublishTrigger(ctx context.Context, ev *event.TriggerRequested) (bool, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return false, fmt.Errorf("encode trigger event: %w", err)
	}
	msg := nats.NewMsg(event.TriggerSubject(ev.ProjectID))
	msg.Data = data
	msg.Header.Set(event.HeaderReplyTo, r.prefix+ev.EventID)
	msg.Header.Set(event.HeaderReplyBare, "1")
	start := time.Now()
	ack, err := r.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.EventID))
	took := time.Since(start).Seconds()
	switch {
	case err != nil:
		publishFailed.Observe(took)
		return false, fmt.Errorf("publish trigger event: %w", err)
	case ack.Duplicate:
		publishDuplicate.Observe(took)
	default:
		publishStored.Observe(took)
	}
	return ack.Duplicate, nil
}

// Invalidate broadcasts a cache invalidation. It is best effort: caches also
// expire on their own.
func (r *Relay) Invalidate(_ context.Context, inv event.Invalidation) {
	data, err := json.Marshal(inv)
	if err != nil {
		return
	}
	if err := r.nc.Publish(event.InvalidateSubject, data); err != nil {
		r.log.Warn("publish cache invalidation", "err", err)
	}
}

// PipelineChanged announces a user's change of a pipeline: a durable
// advance event for the dispatchers, and a best-effort stop notice to the
// runner of each canceled job.
func (r *Relay) PipelineChanged(ctx context.Context, projectID, pipelineID int64, canceledJobs []int64) error {
	for _, id := range canceledJobs {
		if err := r.nc.Publish(event.CancelSubject(id), nil); err != nil {
			r.log.Warn("announce job cancel", "job_id", id, "err", err)
		}
	}
	data, err := json.Marshal(event.JobEvent{Type: event.JobEventAdvance, PipelineID: pipelineID, ProjectID: projectID})
	if err != nil {
		return err
	}
	if _, err := r.js.Publish(ctx, event.JobEventSubject(projectID), data); err != nil {
		return fmt.Errorf("publish pipeline change: %w", err)
	}
	return nil
}
