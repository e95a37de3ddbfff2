package worker

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

// TestClaimAnsweredAgainUnderTheSameClaimID: a runner whose claim answer
// was lost retries under the same claim id and gets the job again, with a
// token that is the job's from then on; a claim under another id (the job
// message redelivered to another runner) is refused.
func TestClaimAnsweredAgainUnderTheSameClaimID(t *testing.T) {
	f := newFixture(t, docsCI)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := f.process(t, f.event("ev-claim", "master"))
	require.Equal(t, http.StatusCreated, res.outcome.Status)
	q := store.New(f.pool)
	pending, err := q.PendingBuilds(ctx, res.outcome.Pipeline.ID)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	jobID := pending[0].ID

	nc, err := nats.Connect(testenv.NATS(t).URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w := NewJobs(log, f.pool, nc, nil, nil, "http://triggerd.example", 1, time.Minute)
	sub, err := w.serveClaims(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Drain() })

	claim := func(runner, claimID string, attempt int) event.JobPayload {
		t.Helper()
		p, err := broker.RequestClaim(nc, event.JobClaim{JobID: jobID, Runner: runner, ClaimID: claimID, Attempt: attempt}, 10*time.Second)
		require.NoError(t, err)
		return p
	}
	jobToken := func(p event.JobPayload) string {
		for _, v := range p.Variables {
			if v.Key == "CI_JOB_TOKEN" {
				return v.Value
			}
		}
		return ""
	}

	first := claim("r1", "c1", 1) // its answer is lost on the way
	require.True(t, first.OK, first.Reason)
	second := claim("r1", "c1", 2)
	require.True(t, second.OK, second.Reason)
	require.Equal(t, jobID, second.JobID)
	require.Equal(t, first.PipelineID, second.PipelineID)
	require.Equal(t, first.Script, second.Script)
	require.NotEqual(t, first.Token, second.Token)
	require.Equal(t, second.Token, jobToken(second), "CI_JOB_TOKEN is the answer's token")

	job, err := q.JobByTokenDigest(ctx, secret.Digest(second.Token))
	require.NoError(t, err, "the repeated answer's token is the job's")
	require.Equal(t, jobID, job.ID)
	require.Equal(t, "running", job.Status)
	_, err = q.JobByTokenDigest(ctx, secret.Digest(first.Token))
	require.ErrorIs(t, err, store.ErrNotFound, "the lost answer's token is void")

	other := claim("r2", "c2", 1)
	require.False(t, other.OK)
	require.Equal(t, event.ClaimRefused, other.Reason)
	_, err = q.JobByTokenDigest(ctx, secret.Digest(second.Token))
	require.NoError(t, err, "a refused claim changes nothing")
}
