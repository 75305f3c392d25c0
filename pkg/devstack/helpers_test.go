package devstack

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testLogger writes through the test's output, so it shows with -v or on failure.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// reachableTempDir is a directory the postgres OS user can enter when we are
// root (t.TempDir() is 0700 root), removed at the end of the test.
func reachableTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "devstack-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// testContext is the test's context with a deadline suited to starting servers.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// startTestPostgres starts a server and stops it at the end of the test.
func startTestPostgres(t testing.TB, opts PostgresOptions) *Postgres {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	pg, err := StartPostgres(testContext(t), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pg.Stop()) })
	return pg
}
