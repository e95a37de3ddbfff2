package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Batch is statements sent to Postgres together, in one round trip
// (pgx.Batch). Each queued read returns where its rows will be once the
// batch has been sent; nothing is there before. A failed statement fails
// the batch, and the statements after it do not run.
type Batch struct {
	b pgx.Batch
}

// Len is how many statements are queued.
func (b *Batch) Len() int { return b.b.Len() }

// queueAll queues a query whose rows are scanned into the returned slice by
// column name.
func queueAll[T any](b *Batch, sql string, args ...any) *[]T {
	out := new([]T)
	b.b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		v, err := pgx.CollectRows(rows, pgx.RowToStructByName[T])
		*out = v
		return mapErr(err)
	})
	return out
}

// queueExec queues a statement without rows.
func (b *Batch) queueExec(sql string, args ...any) {
	b.b.Queue(sql, args...).Exec(func(pgconn.CommandTag) error { return nil })
}

// Send runs b's statements on q's handle in one round trip.
func (q *Queries) Send(ctx context.Context, b *Batch) error {
	if b.Len() == 0 {
		return nil
	}
	return mapErr(q.db.SendBatch(ctx, &b.b).Close())
}

// InTxAfter runs fn in a transaction whose BEGIN travels in one round trip
// with the reads first queues: reads that do not depend on each other cost
// the transaction no round trip of their own. fn runs once their results
// are in; the transaction commits if fn returns nil.
func InTxAfter(ctx context.Context, pool *pgxpool.Pool, first func(b *Batch), fn func(q *Queries) error) error {
	var b Batch
	b.b.BeginTx(pgx.TxOptions{})
	first(&b)
	br := pool.SendBatch(ctx, &b.b)
	tx := br.Tx()
	defer func() { _ = tx.Rollback(ctx) }() // a no-op once committed
	if err := br.Close(); err != nil {
		return mapErr(err)
	}
	if err := fn(New(tx)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}
