package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
)

// TestClaimJobAnsweredAgainForTheSameClaimID: a claim whose answer was lost
// is retried under the same claim id and granted again, with the new
// token's digest in place of the first; any other claim is refused, and so
// is a retry older than the one that set the token, or one after the job
// started logging.
func TestClaimJobAnsweredAgainForTheSameClaimID(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	pool, q := p.pool, p.q
	require.NoError(t, store.InTx(ctx, pool, func(q *store.Queries) error {
		_, err := q.CreatePipeline(ctx, store.NewPipeline{ProjectID: p.id, EventID: "ev", SHA: "abc", Ref: "main",
			Status: "pending", Source: "trigger",
			Jobs: []store.NewJob{{Kind: "build", Name: "j", Stage: "test", Status: "pending", When: "on_success", Spec: []byte(`{}`)}}})
		return err
	}))
	var jobID int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM jobs`).Scan(&jobID))
	claim := func(runner, claimID string, attempt int, token string) (bool, error) {
		_, again, err := q.ClaimJob(ctx, store.Claim{JobID: jobID, Runner: runner, ID: claimID, Attempt: attempt,
			TokenDigest: secret.Digest(token)})
		return again, err
	}
	holder := func(token string) error {
		_, err := q.JobByTokenDigest(ctx, secret.Digest(token))
		return err
	}

	again, err := claim("r1", "c1", 1, "t1")
	require.NoError(t, err)
	require.False(t, again)
	again, err = claim("r1", "c1", 2, "t2")
	require.NoError(t, err, "the answer to attempt 1 was lost: attempt 2 is answered again")
	require.True(t, again)
	require.ErrorIs(t, holder("t1"), store.ErrNotFound, "the lost answer's token is replaced")
	require.NoError(t, holder("t2"))

	_, err = claim("r2", "c2", 1, "t3")
	require.ErrorIs(t, err, store.ErrNotFound, "another claim (a redelivery) is refused")
	_, err = claim("r2", "", 0, "t3")
	require.ErrorIs(t, err, store.ErrNotFound, "and so is a claim without an id")
	_, err = claim("r1", "c1", 1, "t4")
	require.ErrorIs(t, err, store.ErrNotFound, "a late older attempt does not replace the token of a newer one")
	require.NoError(t, holder("t2"))

	_, appended, err := q.AppendTrace(ctx, jobID, 0, "Running with triggerd runner-sim\n")
	require.NoError(t, err)
	require.True(t, appended)
	_, err = claim("r1", "c1", 3, "t5")
	require.ErrorIs(t, err, store.ErrNotFound, "once the job logs, its token is never swapped")
	require.NoError(t, holder("t2"))

	var status, runner string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status, runner FROM jobs WHERE id = $1`, jobID).Scan(&status, &runner))
	require.Equal(t, []string{"running", "r1"}, []string{status, runner})
}
