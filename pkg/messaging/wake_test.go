package messaging_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// hour is a poll interval no test waits for: what such a relay publishes,
// a wake made it publish.
const hour = time.Hour

// waitLeader waits until some relay holds the relay lock in b's producer database.
func (b *bundle) waitLeader(t *testing.T) {
	t.Helper()
	testharness.Eventually(t, 10*time.Second, func() bool {
		return count(t, b.producer, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7246151 AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`) == 1
	}, "a relay leads")
}

// nextSubjects waits, on an ordered consumer of the INTAKE stream, for n
// messages and returns their ce-subject headers.
func nextSubjects(t *testing.T, js jetstream.JetStream, n int, within time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, "INTAKE", jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	var got []string
	for len(got) < n {
		m, err := c.Next(jetstream.FetchMaxWait(time.Until(deadlineOf(ctx))))
		require.NoError(t, err, "waiting for message %d of %d", len(got)+1, n)
		got = append(got, m.Headers().Get(messaging.HeaderSubject))
	}
	return got
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// TestCommittedPublishWakesTheRelay: the NOTIFY trigger is gone, and a
// relay that would not poll for an hour publishes a committed event at
// once, because Outbox.Publish pokes the process's relay after the commit.
// A rolled-back publish pokes nothing and publishes nothing.
func TestCommittedPublishWakesTheRelay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	require.Zero(t, count(t, b.producer, `SELECT count(*) FROM pg_trigger WHERE tgname = 'outbox_notify'`), "no NOTIFY trigger")
	require.Zero(t, count(t, b.producer, `SELECT count(*) FROM pg_proc WHERE proname = 'outbox_notify'`))

	b.relay(t, messaging.RelayConfig{PollInterval: hour})
	b.waitLeader(t) // its first round is over: from now on only a wake makes it read
	b.register(t, ctx, true)
	first := b.register(t, ctx, false)
	require.Equal(t, []string{first}, nextSubjects(t, b.nats.JS, 1, 10*time.Second))

	second := b.register(t, ctx, false)
	third := b.register(t, ctx, false)
	require.Equal(t, []string{first, second, third}, nextSubjects(t, b.nats.JS, 3, 10*time.Second))
	testharness.Eventually(t, 10*time.Second, func() bool { return count(t, b.producer, `SELECT count(*) FROM outbox`) == 0 })
	requireStreamHoldsEachCommittedEventOnce(t, b.nats.JS, b.producer)
}

// TestEventOfAReplicaWhoseRelayFollowsIsPolled: two processes share a
// database; the relay of the first leads, the relay of the second follows
// (and will not try to lead again within the test). An event the second
// process commits pokes only its own, following relay; the leader publishes
// it through its poll.
func TestEventOfAReplicaWhoseRelayFollowsIsPolled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.relay(t, messaging.RelayConfig{PollInterval: 20 * time.Millisecond, Wake: messaging.NewWake()})
	b.waitLeader(t)
	// The second process: its outbox wakes its own relay, which follows.
	var followerPublished atomic.Int64
	b.relay(t, messaging.RelayConfig{PollInterval: hour, LeadInterval: hour,
		AfterPublish: func(n int) error { followerPublished.Add(int64(n)); return nil }})

	id := b.register(t, ctx, false) // b.outbox pokes b.wake: the follower's
	require.Equal(t, []string{id}, nextSubjects(t, b.nats.JS, 1, 10*time.Second))
	testharness.Eventually(t, 10*time.Second, func() bool { return count(t, b.producer, `SELECT count(*) FROM outbox`) == 0 })
	require.Zero(t, followerPublished.Load(), "the follower published nothing")
	requireStreamHoldsEachCommittedEventOnce(t, b.nats.JS, b.producer)
}

// TestRelayRestsAfterAFailedRound: polling every few milliseconds, a relay
// facing an event JetStream refuses still fails only once per
// RetryInterval, however often it is polled or woken: an outage costs a
// warning per interval, not one per poll or commit.
func TestRelayRestsAfterAFailedRound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.producer.Exec(`INSERT INTO outbox (event_id, subject, payload, headers) VALUES (gen_random_uuid(), 'clinicops.nowhere.v1.Lost', '\x00', '{}')`)
	require.NoError(t, err)
	const rest = 300 * time.Millisecond
	start := time.Now()
	w, _ := b.relayCounting(t, messaging.RelayConfig{PollInterval: 2 * time.Millisecond, RetryInterval: rest, PublishTimeout: 20 * time.Millisecond})
	for range 20 {
		b.wake.Poke()
	}
	testharness.Eventually(t, 20*time.Second, func() bool { return w.failed.Load() >= 4 }, "the relay keeps failing on the unrouted event")
	require.GreaterOrEqual(t, time.Since(start), 3*rest, "4 failed rounds are at least 3 rests apart")
}
