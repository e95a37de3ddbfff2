package runner

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/testenv"
)

// dispatcherStub answers claims on the claim subject as answer says; a nil
// answer leaves the request unanswered (a lost reply). It records every
// request.
type dispatcherStub struct {
	mu     sync.Mutex
	claims []event.JobClaim
}

func (d *dispatcherStub) serve(t *testing.T, nc *nats.Conn, answer func(n int, c event.JobClaim) *event.JobPayload) {
	t.Helper()
	sub, err := nc.Subscribe(event.ClaimSubject, func(m *nats.Msg) {
		var c event.JobClaim
		require.NoError(t, json.Unmarshal(m.Data, &c))
		d.mu.Lock()
		d.claims = append(d.claims, c)
		n := len(d.claims)
		d.mu.Unlock()
		if p := answer(n, c); p != nil {
			data, _ := json.Marshal(p)
			_ = m.Respond(data)
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

func (d *dispatcherStub) seen() []event.JobClaim {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]event.JobClaim(nil), d.claims...)
}

func claimRunner(t *testing.T, retryFor time.Duration) (*Runner, *nats.Conn) {
	t.Helper()
	srv := testenv.NATS(t)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	r := New(Config{Name: "r1", ClaimTimeout: 200 * time.Millisecond, RetryFor: retryFor},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nc, nil, nil)
	return r, nc
}

// TestClaimRetriesUnderOneClaimID: a claim whose answer is lost, or that a
// dispatcher could not decide, is retried with the same claim id and the
// next attempt number until it is answered.
func TestClaimRetriesUnderOneClaimID(t *testing.T) {
	r, nc := claimRunner(t, time.Minute)
	var d dispatcherStub
	d.serve(t, nc, func(n int, c event.JobClaim) *event.JobPayload {
		switch n {
		case 1:
			return nil // committed, but the answer never arrives
		case 2:
			return &event.JobPayload{JobID: c.JobID, Reason: event.ClaimFailed}
		}
		return &event.JobPayload{OK: true, JobID: c.JobID, Token: "glcbt-x"}
	})
	p, err := r.claim(context.Background(), 42, r.log)
	require.NoError(t, err)
	require.True(t, p.OK)
	claims := d.seen()
	require.Len(t, claims, 3)
	require.NotEmpty(t, claims[0].ClaimID)
	for i, c := range claims {
		require.Equal(t, event.JobClaim{JobID: 42, Runner: "r1", ClaimID: claims[0].ClaimID, Attempt: i + 1}, c)
	}

	// The next job message is another claim.
	p, err = r.claim(context.Background(), 42, r.log)
	require.NoError(t, err)
	require.True(t, p.OK)
	require.NotEqual(t, claims[0].ClaimID, d.seen()[3].ClaimID)
}

// TestClaimRefusalIsFinal: a refusal ends the claim at once.
func TestClaimRefusalIsFinal(t *testing.T) {
	r, nc := claimRunner(t, time.Minute)
	var d dispatcherStub
	d.serve(t, nc, func(_ int, c event.JobClaim) *event.JobPayload {
		return &event.JobPayload{JobID: c.JobID, Reason: event.ClaimRefused}
	})
	p, err := r.claim(context.Background(), 7, r.log)
	require.NoError(t, err)
	require.False(t, p.OK)
	require.Equal(t, event.ClaimRefused, p.Reason)
	require.Len(t, d.seen(), 1)
}

// TestClaimGivesUpAfterRetryFor: without any dispatcher the claim is
// retried for up to RetryFor, then fails.
func TestClaimGivesUpAfterRetryFor(t *testing.T) {
	r, _ := claimRunner(t, time.Second)
	start := time.Now()
	_, err := r.claim(context.Background(), 7, r.log)
	require.ErrorIs(t, err, nats.ErrNoResponders)
	require.Less(t, time.Since(start), 10*time.Second)
}
