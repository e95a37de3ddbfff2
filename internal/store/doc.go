// Package store is the service's Postgres data layer. Queries are SQL
// constants next to the methods that run them; every method runs against a
// DB, which both a pool and a transaction satisfy, so the same query works in
// either. Driver errors become domain errors here and nowhere else: no rows is
// ErrNotFound, a unique violation is ErrDuplicate.
package store
