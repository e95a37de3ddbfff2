package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

func TestCreatePipelineIIDsHaveNoGapsUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	q := store.New(pool)
	admin, err := q.EnsureAdmin(ctx, secret.Digest("x"))
	require.NoError(t, err)
	var projectID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO projects (namespace_id, name, path, path_with_namespace)
		SELECT id, 'p', 'p', 'root/p' FROM namespaces WHERE owner_id = $1 RETURNING id`, admin.ID).Scan(&projectID))

	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- store.InTx(ctx, pool, func(q *store.Queries) error {
				_, err := q.CreatePipeline(ctx, store.NewPipeline{ProjectID: projectID, EventID: testenv.Name("ev"),
					SHA: "abc", Ref: "main", Status: "created", Source: "trigger",
					Variables: []store.Variable{{Key: "A", Value: "1"}},
					Jobs:      []store.NewJob{{Kind: "build", Name: "j", Stage: "test", Status: "created", When: "on_success", Spec: []byte(`{}`)}}})
				return err
			})
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var count, maxIID int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), max(iid) FROM pipelines WHERE project_id = $1`, projectID).Scan(&count, &maxIID))
	require.Equal(t, n, count)
	require.Equal(t, n, maxIID)

	// The same event twice is a duplicate, not a second pipeline.
	np := store.NewPipeline{ProjectID: projectID, EventID: "same", SHA: "abc", Ref: "main", Status: "created", Source: "trigger"}
	require.NoError(t, store.InTx(ctx, pool, func(q *store.Queries) error { _, err := q.CreatePipeline(ctx, np); return err }))
	err = store.InTx(ctx, pool, func(q *store.Queries) error { _, err := q.CreatePipeline(ctx, np); return err })
	require.ErrorIs(t, err, store.ErrDuplicate)
}

// TestHotRowsOnDoesNotWaitForCommits: with HotRowsOn, a transaction that
// took iids of a project does not hold back another creating pipelines of
// that project; without it, the second waits for the first's commit.
func TestHotRowsOnDoesNotWaitForCommits(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	pool, projectID := p.pool, p.id
	np := func() store.NewPipeline {
		return store.NewPipeline{ProjectID: projectID, EventID: testenv.Name("ev"), SHA: "abc", Ref: "main", Status: "created", Source: "trigger"}
	}

	first, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = store.New(first).HotRowsOn(pool).CreatePipeline(ctx, np())
	require.NoError(t, err)
	// first is still open: a second creator goes ahead at once.
	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, store.InTx(quick, pool, func(q *store.Queries) error {
		_, err := q.HotRowsOn(pool).CreatePipeline(quick, np())
		return err
	}))
	require.NoError(t, first.Rollback(ctx))
	var iids []int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(iid ORDER BY iid) FROM pipelines WHERE project_id = $1`, projectID).Scan(&iids))
	require.Equal(t, []int64{2}, iids, "the rolled back transaction's iid is a gap")

	// Inside the transaction, the counter row stays locked until commit.
	holder, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = holder.Rollback(ctx) }()
	_, err = store.New(holder).CreatePipeline(ctx, np())
	require.NoError(t, err)
	blocked, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	err = store.InTx(blocked, pool, func(q *store.Queries) error { _, err := q.CreatePipeline(blocked, np()); return err })
	require.Error(t, err, "a creator without HotRowsOn waits for the holder's commit")
}

func TestCommitFilesAndRefs(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	q := store.New(pool)
	admin, err := q.EnsureAdmin(ctx, secret.Digest("x"))
	require.NoError(t, err)
	var projectID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO projects (namespace_id, name, path, path_with_namespace)
		SELECT id, 'p', 'p', 'root/p' FROM namespaces WHERE owner_id = $1 RETURNING id`, admin.ID).Scan(&projectID))

	var c1 store.Commit
	require.NoError(t, store.InTx(ctx, pool, func(q *store.Queries) error {
		var created bool
		c1, created, err = q.CommitFiles(ctx, store.CommitRequest{ProjectID: projectID, Branch: "main", Message: "init",
			AuthorName: "A", AuthorEmail: "a@x", Actions: []store.FileAction{{Action: "create", Path: ".gitlab-ci.yml", Content: []byte("x: 1")}}})
		require.True(t, created)
		return err
	}))
	content, blob, err := q.FileAt(ctx, projectID, c1.SHA, ".gitlab-ci.yml")
	require.NoError(t, err)
	require.Equal(t, "x: 1", string(content))
	require.Equal(t, store.BlobSHA([]byte("x: 1")), blob)
	_, _, err = q.FileAt(ctx, projectID, c1.SHA, "nope")
	require.ErrorIs(t, err, store.ErrFileNotFound)

	err = store.InTx(ctx, pool, func(q *store.Queries) error {
		_, _, err := q.CommitFiles(ctx, store.CommitRequest{ProjectID: projectID, Branch: "main", Message: "again",
			Actions: []store.FileAction{{Action: "create", Path: ".gitlab-ci.yml", Content: []byte("y")}}})
		return err
	})
	require.ErrorIs(t, err, store.ErrFileExists)

	_, err = q.CreateRef(ctx, projectID, "tag", "main", c1.SHA, "")
	require.NoError(t, err)
	refs, err := q.RefsNamed(ctx, projectID, "main")
	require.NoError(t, err)
	require.Len(t, refs, 2, "a branch and a tag of the same name")
	got, err := q.CommitBySHA(ctx, projectID, c1.SHA[:8])
	require.NoError(t, err)
	require.Equal(t, c1.SHA, got.SHA)
}
