package broker

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/triggerd/triggerd/internal/event"
)

// RequestClaim sends one attempt of a job claim to the dispatchers and
// returns their answer, or the request's error (nats.ErrTimeout,
// nats.ErrNoResponders…) when none came within timeout. A reply that comes
// later is dropped by NATS, never seen by the caller.
func RequestClaim(nc *nats.Conn, c event.JobClaim, timeout time.Duration) (event.JobPayload, error) {
	req, err := json.Marshal(c)
	if err != nil {
		return event.JobPayload{}, fmt.Errorf("claim: %w", err)
	}
	resp, err := nc.Request(event.ClaimSubject, req, timeout)
	if err != nil {
		return event.JobPayload{}, err
	}
	var p event.JobPayload
	if err := json.Unmarshal(resp.Data, &p); err != nil {
		return event.JobPayload{}, fmt.Errorf("bad claim answer: %w", err)
	}
	return p, nil
}
