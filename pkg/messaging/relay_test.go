package messaging_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// producers commit registrations (a business row and its event) from
// several goroutines until stopped, retrying failed transactions as a client
// retries after a 5xx. The things table, not their bookkeeping, says what
// committed: a commit whose answer was lost may still have happened.
type producers struct {
	committed atomic.Int64
	failed    atomic.Int64
	mu        sync.Mutex
	ids       []string // committed things, in the order their commits returned
	stop      chan struct{}
	wg        sync.WaitGroup
	// halt stops the producers and waits for them.
	halt func()
}

func startProducers(t *testing.T, b *bundle, workers int) *producers {
	t.Helper()
	p := &producers{stop: make(chan struct{})}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				id, err := tryRegister(b)
				if err != nil {
					p.failed.Add(1)
					time.Sleep(5 * time.Millisecond) // back off while the database is down
					continue
				}
				p.mu.Lock()
				p.ids = append(p.ids, id)
				p.mu.Unlock()
				p.committed.Add(1)
			}
		}()
	}
	var once sync.Once
	p.halt = func() { once.Do(func() { close(p.stop); p.wg.Wait() }) }
	t.Cleanup(p.halt)
	return p
}

// committedSince returns the things committed after the first mark ones
// were: a worker may have committed just before the mark and recorded it
// just after, so the first of each worker's later records are skipped.
func (p *producers) committedSince(mark, workers int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if mark+workers >= len(p.ids) {
		return nil
	}
	return append([]string(nil), p.ids[mark+workers:]...)
}

func (p *producers) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids)
}

// waitCommitted waits until at least n more transactions have committed.
func (p *producers) waitCommitted(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	target := p.committed.Load() + n
	testharness.Eventually(t, within, func() bool { return p.committed.Load() >= target }, "producers did not commit %d more", n)
}

// tryCount is count for a database that may be down: -1 on error.
func tryCount(db *sqlx.DB, query string) int {
	var n int
	if err := db.Get(&n, query); err != nil {
		return -1
	}
	return n
}

// requireStreamHoldsEachCommittedEventOnce reads the whole INTAKE stream and
// checks it against the things the producer committed: one message per
// thing (by ce-subject), no event id twice, nothing else.
func requireStreamHoldsEachCommittedEventOnce(t *testing.T, js jetstream.JetStream, producer *sqlx.DB) {
	t.Helper()
	ctx := context.Background()
	var things []string
	require.NoError(t, producer.Select(&things, `SELECT id::text FROM things`))
	s, err := js.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	bySubject := map[string]int{}
	byID := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		bySubject[m.Header.Get(messaging.HeaderSubject)]++
		byID[m.Header.Get(messaging.HeaderID)]++
	}
	require.Len(t, byID, int(info.State.Msgs), "no event id twice in the stream")
	require.Equal(t, len(things), int(info.State.Msgs), "one message per committed event")
	for _, id := range things {
		require.Equal(t, 1, bySubject[id], "the event of committed thing %s reached the stream once", id)
	}
}

// TestRelayNATSOutageLosesNothing keeps producers committing while NATS is
// shut down abruptly (no lame-duck mode). Events committed during the outage
// stay in the outbox however often the relay fails; the relay then "crashes"
// (its connection and whatever the NATS client buffered are gone), NATS
// starts again on the same store and port, a new relay takes over, and every
// committed event reaches the stream exactly once.
func TestRelayNATSOutageLosesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const workers = 4
	relayConn := func() (*nats.Conn, jetstream.JetStream) {
		nc := testharness.Connect(t, b.nats.Server.ClientURL())
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		return nc, js
	}
	nc, js := relayConn()
	w, stopRelay := b.relayCounting(t, messaging.RelayConfig{JS: js, PublishTimeout: 200 * time.Millisecond})
	p := startProducers(t, b, workers)
	p.waitCommitted(t, 30, 30*time.Second)

	b.nats.Server.Server().Shutdown()
	mark := p.mark()
	p.waitCommitted(t, 60, 30*time.Second)
	failed := w.failed.Load()
	testharness.Eventually(t, 20*time.Second, func() bool { return w.failed.Load() >= failed+3 }, "the relay keeps failing while NATS is down")
	during := p.committedSince(mark, workers)
	var inOutbox int
	require.NoError(t, b.producer.Get(&inOutbox, `SELECT count(*) FROM outbox WHERE headers->>'ce-subject' = ANY($1)`, pq.Array(during)))
	require.Equal(t, len(during), inOutbox, "every event committed while NATS is down is still in the outbox")

	stopRelay()
	nc.Close() // the relay process is gone, and with it the client's reconnect buffer
	require.NoError(t, b.nats.Server.Restart())
	_, js = relayConn()
	b.relayCounting(t, messaging.RelayConfig{JS: js})
	p.waitCommitted(t, 30, 30*time.Second)
	p.halt()
	testharness.Eventually(t, 60*time.Second, func() bool { return count(t, b.producer, `SELECT count(*) FROM outbox`) == 0 })
	requireStreamHoldsEachCommittedEventOnce(t, b.nats.JS, b.producer)
}

// TestRelayPostgresOutageLosesNothing kills the producer's (durable)
// Postgres with SIGKILL while producers and the relay run, and restarts it:
// the relay loses its leader connection, leads again, and every committed
// event reaches the stream exactly once.
func TestRelayPostgresOutageLosesNothing(t *testing.T) {
	t.Parallel()
	n := testharness.StartNATS(t, "intake")
	pg := testharness.NewCluster(t)
	pdb, pdsn := testharness.DBOn(t, pg, messaging.Migrations, appMigrations)
	b := withWake(&bundle{nats: n, producer: pdb, producerDS: pdsn, outbox: messaging.NewOutbox("intake", nil)})
	b.relay(t, messaging.RelayConfig{})
	p := startProducers(t, b, 4)
	p.waitCommitted(t, 30, 30*time.Second)

	require.NoError(t, pg.Kill())
	failed := p.failed.Load()
	testharness.Eventually(t, 30*time.Second, func() bool { return p.failed.Load() >= failed+20 }, "writes fail while Postgres is down")
	require.NoError(t, pg.Restart(context.Background()))
	p.waitCommitted(t, 60, 60*time.Second)
	p.halt()
	testharness.Eventually(t, 60*time.Second, func() bool { return tryCount(b.producer, `SELECT count(*) FROM outbox`) == 0 })
	requireStreamHoldsEachCommittedEventOnce(t, b.nats.JS, b.producer)
}

// warnCounter is a slog handler that counts the relay's failed rounds, the
// signal that it tried and failed.
type warnCounter struct {
	failed atomic.Int64
}

func (w *warnCounter) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && r.Message == "outbox relay" {
		w.failed.Add(1)
	}
	return nil
}
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

// relayCounting runs a relay whose failed rounds are counted.
func (b *bundle) relayCounting(t *testing.T, cfg messaging.RelayConfig) (*warnCounter, context.CancelFunc) {
	t.Helper()
	w := &warnCounter{}
	cfg.DB, cfg.Log = b.producer, slog.New(w)
	if cfg.Wake == nil {
		cfg.Wake = b.wake
	}
	if cfg.JS == nil {
		cfg.JS = b.nats.JS
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	r := messaging.NewRelay(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return w, stop
}

// TestRelayKeepsRowsJetStreamRefused puts an event no stream captures
// between two good ones: JetStream answers no-responders for it, so it and
// the event after it (order) stay in the outbox, round after round, until
// an operator removes it.
func TestRelayKeepsRowsJetStreamRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first := b.register(t, ctx, false)
	_, err := b.producer.Exec(`INSERT INTO outbox (event_id, subject, payload, headers) VALUES ($1, 'clinicops.nowhere.v1.Lost', '\x00', '{}')`, uuid.NewString())
	require.NoError(t, err)
	last := b.register(t, ctx, false)

	w, _ := b.relayCounting(t, messaging.RelayConfig{PublishTimeout: 2 * time.Second})
	testharness.Eventually(t, 20*time.Second, func() bool { return w.failed.Load() >= 3 }, "the relay keeps failing on the unrouted event")
	var left []string
	require.NoError(t, b.producer.Select(&left, `SELECT subject || ' ' || COALESCE(headers->>'ce-subject', '') FROM outbox ORDER BY id`))
	require.Equal(t, []string{"clinicops.nowhere.v1.Lost ", "clinicops.intake.v1.PatientRegistered " + last}, left,
		"the refused event and the one after it stay; the one before was published and deleted")

	_, err = b.producer.Exec(`DELETE FROM outbox WHERE subject = 'clinicops.nowhere.v1.Lost'`)
	require.NoError(t, err)
	testharness.Eventually(t, 10*time.Second, func() bool { return count(t, b.producer, `SELECT count(*) FROM outbox`) == 0 })
	s, err := b.nats.JS.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	for seq, want := range []string{first, last} {
		m, err := s.GetMsg(ctx, uint64(seq+1))
		require.NoError(t, err)
		require.Equal(t, want, m.Header.Get(messaging.HeaderSubject), "order kept")
	}
}

// TestRelayKeepsRowsWhenPublishTimesOut runs the relay against a stopped
// NATS server with a tiny PublishTimeout: nothing is acknowledged, so
// nothing leaves the outbox; once NATS is back, everything goes out once.
func TestRelayKeepsRowsWhenPublishTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for range 3 {
		b.register(t, ctx, false)
	}
	b.nats.Server.Server().Shutdown()
	w, _ := b.relayCounting(t, messaging.RelayConfig{PublishTimeout: 20 * time.Millisecond})
	testharness.Eventually(t, 20*time.Second, func() bool { return w.failed.Load() >= 3 }, "the relay keeps timing out")
	require.Equal(t, 3, count(t, b.producer, `SELECT count(*) FROM outbox`), "unacknowledged events stay")

	require.NoError(t, b.nats.Server.Restart())
	testharness.Eventually(t, 20*time.Second, func() bool { return count(t, b.producer, `SELECT count(*) FROM outbox`) == 0 })
	requireStreamHoldsEachCommittedEventOnce(t, b.nats.JS, b.producer)
}

// TestOneRelayLeads runs two relays on one database: while the first one's
// session lives, the second publishes nothing; when the first one's
// connection is killed it loses the lead and a relay leads again; when it
// stops, the second takes over.
func TestOneRelayLeads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var byRelay [2]atomic.Int64
	counting := func(i int) func(int) error {
		return func(n int) error { byRelay[i].Add(int64(n)); return nil }
	}
	_, stopFirst := b.relay(t, messaging.RelayConfig{AfterPublish: counting(0)})
	b.register(t, ctx, false)
	testharness.Eventually(t, 10*time.Second, func() bool { return byRelay[0].Load() == 1 }, "the first relay leads")
	b.relay(t, messaging.RelayConfig{AfterPublish: counting(1), LeadInterval: 10 * time.Millisecond})

	outboxEmpty := func() bool { return count(t, b.producer, `SELECT count(*) FROM outbox`) == 0 }
	p := startProducers(t, b, 4)
	p.waitCommitted(t, 200, 30*time.Second)
	p.halt()
	testharness.Eventually(t, 20*time.Second, outboxEmpty)
	require.Zero(t, byRelay[1].Load(), "the follower published nothing while the leader's session lived")

	// The leader's connection dies: Postgres drops its lock.
	var killed bool
	require.NoError(t, b.producer.Get(&killed, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objid = 7246151 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`))
	require.True(t, killed)
	before := byRelay[0].Load() + byRelay[1].Load()
	for range 20 {
		b.register(t, ctx, false)
	}
	testharness.Eventually(t, 20*time.Second, func() bool { return outboxEmpty() && byRelay[0].Load()+byRelay[1].Load() >= before+20 },
		"a relay leads again after the leader's connection died")

	stopFirst()
	published := byRelay[1].Load()
	for range 20 {
		b.register(t, ctx, false)
	}
	testharness.Eventually(t, 20*time.Second, func() bool { return outboxEmpty() && byRelay[1].Load() >= published+20 },
		"the follower took over when the leader stopped")
	requireStreamHoldsEachCommittedEventOnce(t, b.nats.JS, b.producer)
}
