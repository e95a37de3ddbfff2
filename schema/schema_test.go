package schema_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/triggerd/triggerd/internal/testenv"
	"github.com/triggerd/triggerd/schema"
)

// Several binaries starting at once each call Migrate; the advisory lock must
// make that safe, and a second round must change nothing.
func TestConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	_, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`)
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p, err := pgxpool.New(ctx, pool.Config().ConnString())
			if err != nil {
				errs[i] = err
				return
			}
			defer p.Close()
			errs[i] = schema.Migrate(ctx, p)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	migs, err := schema.Migrations()
	require.NoError(t, err)
	var applied int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied))
	require.Equal(t, len(migs), applied)
	require.NoError(t, schema.Migrate(ctx, pool))
}
