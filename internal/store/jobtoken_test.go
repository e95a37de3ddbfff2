package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/store"
)

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
