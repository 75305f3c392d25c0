package messaging_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// TestRelayHoldsNoTransactionWhilePublishing: while the relay waits for
// JetStream's acks (here until its PublishTimeout, NATS being down), no
// transaction of its sits open in the database ("idle in transaction": no
// snapshot held, no lock but its session-level leadership). Sampled from
// pg_stat_activity through two whole timed-out rounds; a statement that is
// running (the relay's 50 ms polls) is not what this looks for.
func TestRelayHoldsNoTransactionWhilePublishing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for range 3 {
		b.register(t, ctx, false)
	}
	b.nats.Server.Server().Shutdown()
	w, _ := b.relayCounting(t, messaging.RelayConfig{PublishTimeout: time.Second})
	samples, open := 0, 0
	testharness.Eventually(t, 30*time.Second, func() bool {
		var n int
		require.NoError(t, b.producer.Get(&n, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`))
		samples++
		open += n
		return w.failed.Load() >= 2
	}, "the relay keeps timing out")
	require.Greater(t, samples, 50, "sampled through the relay's waits")
	require.Zero(t, open, "a transaction was open while the relay waited for JetStream")
	require.Equal(t, 3, count(t, b.producer, `SELECT count(*) FROM outbox`))
}
