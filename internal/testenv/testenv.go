// Package testenv gives tests the real services they run against: a freshly
// created and migrated Postgres database, dropped when the test ends, and an
// embedded NATS server with JetStream on a random port. A test that cannot
// reach Postgres fails with a message saying how to start it; it never skips.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/triggerd/triggerd/internal/broker"
	"github.com/triggerd/triggerd/schema"
)

// DefaultDatabaseURL is the server tests use when TEST_DATABASE_URL is unset.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is the Postgres server URL tests create their databases on.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// Database creates an empty database, migrates it, and returns its URL. The
// database is dropped when the test ends.
func Database(t testing.TB) string {
	t.Helper()
	return DatabaseOn(t, ServerURL())
}

// DatabaseOn is Database on the server at serverURL (a URL of any database
// on it), for tests that run a Postgres server of their own.
func DatabaseOn(t testing.TB, serverURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("testenv: cannot reach Postgres at %s: %v\n"+
			"Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"or point TEST_DATABASE_URL at a server.", serverURL, err)
	}
	defer admin.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "triggerd_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatalf("testenv: TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	dbURL := u.String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
		}
	})
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("testenv: open %s: %v", name, err)
	}
	defer pool.Close()
	if err := schema.Migrate(ctx, pool); err != nil {
		t.Fatalf("testenv: migrate: %v", err)
	}
	return dbURL
}

// Pool is Database plus a pool on it, closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), Database(t))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NATS starts an embedded NATS server with JetStream in a temporary
// directory and returns it; it is shut down when the test ends.
func NATS(t testing.TB) *broker.Embedded {
	t.Helper()
	srv, err := broker.StartEmbedded("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// Name is a unique, lowercase name with prefix, for users and projects.
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s%s", prefix, hex.EncodeToString(b))
}
