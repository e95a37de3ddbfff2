package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/secret"
	"github.com/triggerd/triggerd/internal/store"
	"github.com/triggerd/triggerd/internal/testenv"
)

// project is a test's own migrated database holding the admin user and
// one project of theirs, root/p.
type project struct {
	pool  *pgxpool.Pool
	q     *store.Queries
	admin store.User
	id    int64
}

func newProject(t *testing.T) project {
	t.Helper()
	ctx := context.Background()
	p := project{pool: testenv.Pool(t)}
	p.q = store.New(p.pool)
	var err error
	p.admin, err = p.q.EnsureAdmin(ctx, secret.Digest("x"))
	require.NoError(t, err)
	require.NoError(t, p.pool.QueryRow(ctx, `INSERT INTO projects (namespace_id, name, path, path_with_namespace)
		SELECT id, 'p', 'p', 'root/p' FROM namespaces WHERE owner_id = $1 RETURNING id`, p.admin.ID).Scan(&p.id))
	return p
}
