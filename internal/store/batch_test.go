package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/store"
)

// InTxAfter hands fn the reads sent with BEGIN, commits what fn wrote when
// it succeeds, and keeps nothing when it fails.
func TestInTxAfterReadsThenCommitsOrRollsBack(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	create := func(eventID string, fail error) error {
		var projects *[]store.Project
		var results store.EventResults
		return store.InTxAfter(ctx, p.pool, func(b *store.Batch) {
			projects = b.ProjectsByIDs([]int64{p.id, p.id + 1000})
			results = b.EventResults([]string{eventID})
		}, func(q *store.Queries) error {
			require.Len(t, *projects, 1, "the reads are in before fn runs")
			require.Equal(t, p.id, (*projects)[0].ID)
			if pls, _ := results.ByEvent(); len(pls) > 0 {
				return store.ErrDuplicate
			}
			if _, err := q.CreatePipeline(ctx, store.NewPipeline{ProjectID: p.id, EventID: eventID, SHA: "abc", Ref: "main",
				Status: "created", Source: "trigger"}); err != nil {
				return err
			}
			return fail
		})
	}
	boom := errors.New("boom")
	require.ErrorIs(t, create("ev-failed", boom), boom)
	require.NoError(t, create("ev-kept", nil))
	require.ErrorIs(t, create("ev-kept", nil), store.ErrDuplicate, "the second transaction reads what the first committed")

	var b store.Batch
	results := b.EventResults([]string{"ev-failed", "ev-kept", "ev-never"})
	require.NoError(t, store.InTx(ctx, p.pool, func(q *store.Queries) error { return q.Send(ctx, &b) }))
	pls, rejs := results.ByEvent()
	require.Len(t, pls, 1, "the failed transaction left nothing")
	require.Contains(t, pls, "ev-kept")
	require.Empty(t, rejs)
}
