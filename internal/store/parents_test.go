package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

// Pipelines, their jobs and their variables have no foreign keys (schema
// 0011): a batch locks its projects and users once, and deletes cascade by
// triggers. These tests hold that to what the keys did.

func parentsPipeline(projectID int64, userID *int64) store.NewPipeline {
	return store.NewPipeline{ProjectID: projectID, EventID: testenv.Name("ev"), SHA: "abc", Ref: "main",
		Status: "created", Source: "trigger", UserID: userID,
		Variables: []store.Variable{{Key: "A", Value: "1"}, {Key: "B", Value: "2"}},
		Jobs: []store.NewJob{
			{Kind: "build", Name: "a", Stage: "test", Status: "created", When: "on_success", Spec: []byte(`{}`)},
			{Kind: "build", Name: "b", Stage: "test", Status: "created", When: "on_success", Spec: []byte(`{}`)},
		}}
}

// rowsOf counts a project's pipelines and their jobs and variables, by the
// pipelines' ids, so that orphans count too.
func rowsOf(t *testing.T, p project, ids []int64) (pipelines, jobs, variables int) {
	t.Helper()
	require.NoError(t, p.pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM pipelines WHERE id = ANY($1)),
			(SELECT count(*) FROM jobs WHERE pipeline_id = ANY($1)),
			(SELECT count(*) FROM pipeline_variables WHERE pipeline_id = ANY($1))`, ids).Scan(&pipelines, &jobs, &variables))
	return
}

func TestDeletingAProjectDeletesItsPipelinesJobsAndVariables(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	var ids []int64
	require.NoError(t, store.InTx(ctx, p.pool, func(q *store.Queries) error {
		pls, _, err := q.HotRowsOn(p.pool).CreatePipelines(ctx, []store.NewPipeline{
			parentsPipeline(p.id, &p.admin.ID), parentsPipeline(p.id, nil)})
		for _, pl := range pls {
			ids = append(ids, pl.ID)
		}
		return err
	}))
	pls, jobs, vars := rowsOf(t, p, ids)
	require.Equal(t, []int{2, 4, 4}, []int{pls, jobs, vars})

	require.NoError(t, p.q.DeleteProject(ctx, p.id))
	pls, jobs, vars = rowsOf(t, p, ids)
	require.Equal(t, []int{0, 0, 0}, []int{pls, jobs, vars})
}

// A delete of the project while a batch that inserted its pipelines is
// open waits for the batch, and then deletes what it committed: no orphan.
func TestProjectDeleteWaitsForTheBatchAndLeavesNoOrphans(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	holder, err := p.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = holder.Rollback(ctx) }()
	pls, _, err := store.New(holder).HotRowsOn(p.pool).CreatePipelines(ctx, []store.NewPipeline{parentsPipeline(p.id, &p.admin.ID)})
	require.NoError(t, err)
	ids := []int64{pls[0].ID}

	deleted := make(chan error, 1)
	go func() { deleted <- p.q.DeleteProject(ctx, p.id) }()
	// The delete waits on the batch's lock of the project row.
	require.Eventually(t, func() bool {
		var waiting bool
		require.NoError(t, p.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM projects%')`).Scan(&waiting))
		return waiting
	}, 10*time.Second, 10*time.Millisecond, "the delete does not wait for the open batch")
	select {
	case err := <-deleted:
		t.Fatalf("the delete finished before the batch committed: %v", err)
	default:
	}

	require.NoError(t, holder.Commit(ctx))
	select {
	case err := <-deleted:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the delete did not finish after the batch committed")
	}
	npl, jobs, vars := rowsOf(t, p, ids)
	require.Equal(t, []int{0, 0, 0}, []int{npl, jobs, vars})

	// A batch for the project now finds it gone, and writes nothing.
	err = store.InTx(ctx, p.pool, func(q *store.Queries) error {
		_, _, err := q.CreatePipelines(ctx, []store.NewPipeline{parentsPipeline(p.id, nil)})
		return err
	})
	require.ErrorIs(t, err, store.ErrNotFound)
}

// A batch naming a user that is gone fails whole, as the foreign key did;
// deleting a user unlinks their pipelines, as ON DELETE SET NULL did.
func TestPipelineUsers(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	var userID int64
	require.NoError(t, p.pool.QueryRow(ctx, `INSERT INTO users (username, name, email)
		VALUES ('u', 'U', 'u@example.com') RETURNING id`).Scan(&userID))
	missing := userID + 1000

	err := store.InTx(ctx, p.pool, func(q *store.Queries) error {
		_, _, err := q.HotRowsOn(p.pool).CreatePipelines(ctx, []store.NewPipeline{
			parentsPipeline(p.id, &userID), parentsPipeline(p.id, &missing)})
		return err
	})
	require.ErrorIs(t, err, store.ErrNotFound)
	var count int
	require.NoError(t, p.pool.QueryRow(ctx, `SELECT count(*) FROM pipelines WHERE project_id = $1`, p.id).Scan(&count))
	require.Zero(t, count)

	var id int64
	require.NoError(t, store.InTx(ctx, p.pool, func(q *store.Queries) error {
		pls, _, err := q.CreatePipelines(ctx, []store.NewPipeline{parentsPipeline(p.id, &userID)})
		if err == nil {
			id = pls[0].ID
		}
		return err
	}))
	_, err = p.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, userID)
	require.NoError(t, err)
	var user *int64
	require.NoError(t, p.pool.QueryRow(ctx, `SELECT user_id FROM pipelines WHERE id = $1`, id).Scan(&user))
	require.Nil(t, user)
}
