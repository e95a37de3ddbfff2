package worker

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/event"
	"github.com/triggerd/triggerd/internal/store"
)

// roundTrips counts what a pool sends Postgres: every statement sent alone
// and every batch is one round trip.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// A batch of triggered events costs a fixed number of round trips,
// however many events it holds: the reads travel with BEGIN, then the
// pipelines' ids and iids, then the pipelines with their variables and
// jobs, and the commit; the tokens' use travels with the jobs, or with the
// iids when those are taken apart (HotRowsOn), as the dispatcher does by
// default.
func TestBatchOfTriggersTakesFourRoundTrips(t *testing.T) {
	for _, hotRows := range []bool{false, true} {
		t.Run(fmt.Sprint("hot rows ", hotRows), func(t *testing.T) { testBatchRoundTrips(t, hotRows) })
	}
}

func testBatchRoundTrips(t *testing.T, hotRows bool) {
	ctx := context.Background()
	f := newFixture(t, docsCI)
	var rt roundTrips
	traced := func() *pgxpool.Pool {
		cfg := f.pool.Config().Copy()
		cfg.ConnConfig.Tracer = &rt
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		require.NoError(t, pool.Ping(ctx))
		return pool
	}
	pool, hot := traced(), traced()

	c := newCreator(16, Limits{}, RateLimits{})
	decide := func(evs []*event.TriggerRequested) ([]result, int64) {
		start := rt.n.Load()
		var reads *batchReads
		var results []result
		require.NoError(t, store.InTxAfter(ctx, pool, func(b *store.Batch) { reads = c.queueReads(b, evs) }, func(q *store.Queries) error {
			var err error
			if hotRows {
				q = q.HotRowsOn(hot)
			}
			results, err = c.processRead(ctx, q, evs, reads)
			return err
		}))
		return results, rt.n.Load() - start
	}
	batch := func(prefix string, n int) []*event.TriggerRequested {
		evs := make([]*event.TriggerRequested, n)
		for i := range evs {
			ref := "master"
			if i%2 == 1 {
				ref = "v1.0"
			}
			evs[i] = f.event(fmt.Sprintf("%s-%d", prefix, i), ref)
		}
		return evs
	}
	// The first batch also reads the refs' commits, which are cached.
	_, _ = decide(batch("warm", 2))
	for _, n := range []int{2, 50} {
		_, err := f.pool.Exec(ctx, `UPDATE triggers SET last_used = NULL`)
		require.NoError(t, err)
		results, trips := decide(batch(fmt.Sprint("rt", n), n))
		for _, r := range results {
			require.Equal(t, http.StatusCreated, r.outcome.Status)
		}
		require.EqualValues(t, 4, trips, "round trips for a batch of %d", n)
		var used *time.Time
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT last_used FROM triggers WHERE id = $1`, f.trigger.ID).Scan(&used))
		require.NotNil(t, used, "the token's use is recorded")
	}
}
