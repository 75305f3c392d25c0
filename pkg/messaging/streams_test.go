package messaging_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// EnsureStreams converges: run again as configured it changes nothing (the
// stream's config is not rewritten), and a changed setting is applied.
func TestEnsureStreamsConvergesAndLeavesAlone(t *testing.T) {
	t.Parallel()
	n := testharness.StartNATS(t, "intake")
	ctx := context.Background()
	before, err := n.JS.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	require.NoError(t, messaging.EnsureStreams(ctx, n.JS, messaging.StreamConfig{Services: []string{"intake"}}))
	same, err := n.JS.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	require.Equal(t, before.CachedInfo().Config, same.CachedInfo().Config)

	require.NoError(t, messaging.EnsureStreams(ctx, n.JS, messaging.StreamConfig{Services: []string{"intake"}, MaxAge: 48 * time.Hour}))
	changed, err := n.JS.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	require.Equal(t, 48*time.Hour, changed.CachedInfo().Config.MaxAge, "a changed setting is applied")
}
