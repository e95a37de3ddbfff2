package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is what a query needs: satisfied by *pgxpool.Pool, *pgxpool.Conn and
// pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Domain errors. Callers compare with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
)

// Queries runs the service's SQL against one DB. It holds no state but the DB
// and is safe for concurrent use when the DB is (a pool is; a transaction is
// not).
type Queries struct {
	db DB
	// hot, when set, runs the statements that lock rows every creator
	// shares (a project's iid counter, a trigger's last use) on their own,
	// outside the transaction of db: see HotRowsOn.
	hot DB
}

// New returns Queries over db.
func New(db DB) *Queries { return &Queries{db: db} }

// HotRowsOn returns Queries over the same handle whose iid allocation and
// trigger touches run as single statements on hot, committed at once,
// instead of inside q's transaction. Concurrent batches then hold a
// project's counter row for one statement rather than until their commit,
// and stop queueing behind each other; the price is a gap in a project's
// iids when the transaction that took them fails. hot must not be the pool
// q's transaction came from (a transaction waiting for a second connection
// of an exhausted pool would wait for ever).
func (q *Queries) HotRowsOn(hot DB) *Queries { return &Queries{db: q.db, hot: hot} }

// hotDB is where statements on shared rows run.
func (q *Queries) hotDB() DB {
	if q.hot != nil {
		return q.hot
	}
	return q.db
}

// DB returns the handle the queries run on.
func (q *Queries) DB() DB { return q.db }

// mapErr turns driver errors into domain errors; everything else passes
// through unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrDuplicate, pgErr.ConstraintName)
	}
	return err
}

// IsTransient reports whether err is worth retrying later: the database was
// unreachable, restarting, or a transaction lost a serialization race. A
// constraint violation or a bad query is not.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrDuplicate) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "53", "57", "58", "40": // connection, resources, operator intervention, system, tx rollback
			return true
		}
		return false
	}
	// Everything else from the driver (dial errors, closed connections,
	// timeouts) is a connectivity problem.
	return !errors.Is(err, context.Canceled)
}

// PoolConfig is how a binary connects to Postgres.
type PoolConfig struct {
	URL             string
	ApplicationName string
	MaxConns        int32
	// StatementTimeout bounds every statement so a stuck query cannot hold a
	// connection forever.
	StatementTimeout time.Duration
	// AsyncCommit turns synchronous_commit off: a commit returns before its
	// WAL is flushed. Only for statements whose loss in a crash is harmless
	// or made good by a later synchronous commit, whose flush carries every
	// earlier WAL record with it (see worker.Config.HotRows).
	AsyncCommit bool
}

// Connect opens a pool and waits (with backoff, until ctx ends) for the
// database to answer, so that binaries may start before Postgres does.
func Connect(ctx context.Context, cfg PoolConfig) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	st := cfg.StatementTimeout
	if st == 0 {
		st = 30 * time.Second
	}
	rp := pc.ConnConfig.RuntimeParams
	if cfg.ApplicationName != "" {
		rp["application_name"] = cfg.ApplicationName
	}
	rp["statement_timeout"] = fmt.Sprint(st.Milliseconds())
	if cfg.AsyncCommit {
		rp["synchronous_commit"] = "off"
	}
	rp["idle_in_transaction_session_timeout"] = fmt.Sprint((2 * st).Milliseconds())
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	bo := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithMaxElapsedTime(0), backoff.WithMaxInterval(5*time.Second)), ctx)
	if err := backoff.Retry(func() error { return pool.Ping(ctx) }, bo); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s: %w", RedactURL(cfg.URL), err)
	}
	return pool, nil
}

// RedactURL hides the password of a connection URL for logging.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}

// InTx runs fn in a transaction, committing if fn returns nil.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(q *Queries) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(New(tx)) })
}

// collectOne scans the single row of rows into T by column name.
func collectOne[T any](rows pgx.Rows, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, mapErr(err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[T])
	return v, mapErr(err)
}

// collectColumn scans the single column of every row.
func collectColumn[T any](rows pgx.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[T])
	return v, mapErr(err)
}

// collectAll scans every row of rows into T by column name.
func collectAll[T any](rows pgx.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowToStructByName[T])
	return v, mapErr(err)
}

// EnsureDatabase creates the database named in rawURL if the server says it
// does not exist, so that a fresh machine needs no manual createdb.
func EnsureDatabase(ctx context.Context, rawURL string) error {
	conn, err := pgx.Connect(ctx, rawURL)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
		// Unreachable server and the like: Connect retries those.
		return nil
	}
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to create database %s: %w", name, err)
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var dupErr *pgconn.PgError
	if errors.As(err, &dupErr) && dupErr.Code == "42P04" { // created by a concurrent starter
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
