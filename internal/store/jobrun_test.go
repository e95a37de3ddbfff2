package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
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

// Jobs are created without a token digest, any number of them; a digest,
// once set by a claim, is unique and finds its job (schema 0012 indexes
// only the digests that are set).
func TestJobTokenDigestIsUniqueOnceSet(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	var pl store.Pipeline
	require.NoError(t, store.InTx(ctx, p.pool, func(q *store.Queries) error {
		pls, _, err := q.HotRowsOn(p.pool).CreatePipelines(ctx, []store.NewPipeline{
			parentsPipeline(p.id, nil), parentsPipeline(p.id, nil)})
		if err == nil {
			pl = pls[0]
		}
		return err
	}))
	var jobs []int64
	rows, err := p.pool.Query(ctx, `SELECT id FROM jobs WHERE pipeline_id = $1 AND token_digest IS NULL ORDER BY id`, pl.ID)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		jobs = append(jobs, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, jobs, 2)

	digest := []byte("digest of a job token")
	_, err = p.pool.Exec(ctx, `UPDATE jobs SET token_digest = $2 WHERE id = $1`, jobs[0], digest)
	require.NoError(t, err)
	_, err = p.pool.Exec(ctx, `UPDATE jobs SET token_digest = $2 WHERE id = $1`, jobs[1], digest)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "got %v", err)
	require.Equal(t, "23505", pgErr.Code, "a second job with the same digest")

	j, err := p.q.JobByTokenDigest(ctx, digest)
	require.NoError(t, err)
	require.Equal(t, jobs[0], j.ID)
	_, err = p.q.JobByTokenDigest(ctx, []byte("no such digest"))
	require.ErrorIs(t, err, store.ErrNotFound)
}
