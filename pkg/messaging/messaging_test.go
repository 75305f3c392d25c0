package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/correlation"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// appMigrations give the producer a business table and the consumer an
// effects table with a counter that a doubled effect would show.
var appMigrations = pgdb.MigrationSource{Name: "app", FS: fstest.MapFS{
	"0001_app.up.sql": {Data: []byte(`
		CREATE TABLE things (id uuid PRIMARY KEY, n int NOT NULL);
		CREATE TABLE effects (patient_id uuid PRIMARY KEY, applied int NOT NULL, correlation_id text NOT NULL, causation_id text NOT NULL);`)},
}, Dir: "."}

type bundle struct {
	nats       *testharness.NATS
	producer   *sqlx.DB
	producerDS string
	consumer   *sqlx.DB
	outbox     *messaging.Outbox
	// wake is shared by outbox and, unless a test says otherwise, the
	// relays the bundle starts: the wiring of platform.Runtime.
	wake *messaging.Wake
}

// withWake makes b's outbox wake b's relays after each commit.
func withWake(b *bundle) *bundle {
	b.wake = messaging.NewWake()
	b.outbox = b.outbox.WakeOnCommit(b.wake)
	return b
}

func setup(t *testing.T) *bundle {
	t.Helper()
	n := testharness.StartNATS(t, "intake")
	pdb, pdsn := testharness.DB(t, messaging.Migrations, appMigrations)
	cdb, _ := testharness.DB(t, messaging.Migrations, appMigrations)
	return withWake(&bundle{nats: n, producer: pdb, producerDS: pdsn, consumer: cdb, outbox: messaging.NewOutbox("intake", nil)})
}

// register writes a thing and its PatientRegistered event in one transaction.
func (b *bundle) register(t *testing.T, ctx context.Context, rollback bool) string {
	t.Helper()
	id := uuid.NewString()
	errRollback := errors.New("rollback on purpose")
	err := pgdb.InTx(ctx, b.producer, nil, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO things (id, n) VALUES ($1, 1)`, id); err != nil {
			return err
		}
		if err := b.outbox.Publish(ctx, tx, id, &intakev1.PatientRegistered{PatientId: id, Version: 1}); err != nil {
			return err
		}
		if rollback {
			return errRollback
		}
		return nil
	})
	if rollback {
		require.ErrorIs(t, err, errRollback)
	} else {
		require.NoError(t, err)
	}
	return id
}

func (b *bundle) relay(t *testing.T, cfg messaging.RelayConfig) (*messaging.Relay, context.CancelFunc) {
	t.Helper()
	cfg.DB, cfg.JS, cfg.Log = b.producer, b.nats.JS, testharness.Logger()
	if cfg.Wake == nil {
		cfg.Wake = b.wake
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	r := messaging.NewRelay(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return r, stop
}

// applyEffect is the consumer's effect: count applications per patient.
func applyEffect(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO effects (patient_id, applied, correlation_id, causation_id) VALUES ($1, 1, $2, $3)
		ON CONFLICT (patient_id) DO UPDATE SET applied = effects.applied + 1`,
		ev.Body.PatientId, correlation.ID(ctx), correlation.Causation(ctx))
	return err
}

func (b *bundle) processor(t *testing.T, cfg messaging.ProcessorConfig, fn messaging.HandlerFunc[*intakev1.PatientRegistered]) context.CancelFunc {
	t.Helper()
	if cfg.Service == "" {
		cfg.Service = "scheduling"
	}
	if cfg.DB == nil {
		cfg.DB = b.consumer
	}
	cfg.JS, cfg.Log = b.nats.JS, testharness.Logger()
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	p, err := messaging.NewProcessor(cfg)
	require.NoError(t, err)
	require.NoError(t, messaging.Handle(p, "patient_registered", fn))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-p.Running():
	case err := <-done:
		require.NoError(t, err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return stop
}

func count(t *testing.T, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.Get(&n, query, args...))
	return n
}

func applied(t *testing.T, db *sqlx.DB, id string) int {
	t.Helper()
	return count(t, db, `SELECT COALESCE((SELECT applied FROM effects WHERE patient_id = $1), 0)`, id)
}

func TestRolledBackPublishesNothingCommittedConsumedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := correlation.With(context.Background(), "corr-1", "req-1")
	rolledBack := b.register(t, ctx, true)
	committed := b.register(t, ctx, false)
	b.relay(t, messaging.RelayConfig{})
	b.processor(t, messaging.ProcessorConfig{}, applyEffect)

	testharness.Eventually(t, 10*time.Second, func() bool { return applied(t, b.consumer, committed) == 1 })
	require.Equal(t, 0, applied(t, b.consumer, rolledBack))
	require.Equal(t, 0, count(t, b.producer, `SELECT count(*) FROM things WHERE id = $1`, rolledBack))
	require.Equal(t, 0, count(t, b.producer, `SELECT count(*) FROM outbox`), "relay deletes what it published")

	info, err := b.nats.JS.Stream(context.Background(), "INTAKE")
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.CachedInfo().State.Msgs, "only the committed event is in the stream")

	var corr, cause string
	require.NoError(t, b.consumer.QueryRow(`SELECT correlation_id, causation_id FROM effects WHERE patient_id = $1`, committed).Scan(&corr, &cause))
	require.Equal(t, "corr-1", corr, "correlation id travels from the producer's context to the consumer")
	_, err = uuid.Parse(cause)
	require.NoError(t, err, "causation of the consumer's work is the event id")
}

func TestEnvelopeHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := correlation.With(context.Background(), "corr-h", "req-h")
	id := b.register(t, ctx, false)
	b.relay(t, messaging.RelayConfig{})
	var msg jetstream.RawStreamMsg
	testharness.Eventually(t, 10*time.Second, func() bool {
		m, err := b.nats.JS.Stream(context.Background(), "INTAKE")
		if err != nil {
			return false
		}
		raw, err := m.GetMsg(context.Background(), 1)
		if err != nil {
			return false
		}
		msg = *raw
		return true
	})
	h := msg.Header
	require.Equal(t, "clinicops.intake.v1.PatientRegistered", msg.Subject)
	require.Equal(t, "clinicops.intake.v1.PatientRegistered", h.Get("ce-type"))
	require.Equal(t, "/clinicops/intake", h.Get("ce-source"))
	require.Equal(t, id, h.Get("ce-subject"))
	require.Equal(t, "corr-h", h.Get("ce-correlationid"))
	require.Equal(t, "req-h", h.Get("ce-causationid"))
	require.Equal(t, h.Get("ce-id"), h.Get("Nats-Msg-Id"))
	evID, err := uuid.Parse(h.Get("ce-id"))
	require.NoError(t, err)
	require.Equal(t, uuid.Version(7), evID.Version())
	_, err = time.Parse(time.RFC3339Nano, h.Get("ce-time"))
	require.NoError(t, err)
	require.Equal(t, "application/protobuf", h.Get("content-type"))
}

func TestRelayCrashAfterPublishBeforeProgress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ids := []string{b.register(t, ctx, false), b.register(t, ctx, false), b.register(t, ctx, false)}

	// First relay: publishes the batch, then "crashes" before deleting it.
	var crashes atomic.Int32
	_, stop := b.relay(t, messaging.RelayConfig{AfterPublish: func(int) error {
		crashes.Add(1)
		return errors.New("crash before recording progress")
	}})
	testharness.Eventually(t, 10*time.Second, func() bool { return crashes.Load() >= 2 })
	stop()
	require.Equal(t, 3, count(t, b.producer, `SELECT count(*) FROM outbox`), "progress was not recorded")

	// A restarted relay publishes the same events again.
	b.relay(t, messaging.RelayConfig{})
	testharness.Eventually(t, 10*time.Second, func() bool { return count(t, b.producer, `SELECT count(*) FROM outbox`) == 0 })
	info, err := b.nats.JS.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	require.Equal(t, uint64(3), info.CachedInfo().State.Msgs, "JetStream dropped the republished duplicates by Nats-Msg-Id")

	// Beyond the duplicate window, processed_events is the guard: publish the
	// same events again with fresh Nats-Msg-Ids so JetStream keeps them.
	republishWithNewMsgIDs(t, b.nats.JS, 3)
	b.processor(t, messaging.ProcessorConfig{}, applyEffect)
	testharness.Eventually(t, 10*time.Second, func() bool {
		return count(t, b.consumer, `SELECT count(*) FROM processed_events`) == 3 && consumerDone(t, b.nats.JS, "scheduling_patient_registered", 6)
	})
	for _, id := range ids {
		require.Equal(t, 1, applied(t, b.consumer, id), "no effect applied twice")
	}
}

// republishWithNewMsgIDs copies the first n messages of INTAKE with new
// Nats-Msg-Ids, as if republished after the duplicate window.
func republishWithNewMsgIDs(t *testing.T, js jetstream.JetStream, n uint64) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	for seq := uint64(1); seq <= n; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		m := nats.NewMsg(raw.Subject)
		m.Data = raw.Data
		m.Header = raw.Header
		m.Header.Set("Nats-Msg-Id", uuid.NewString())
		_, err = js.PublishMsg(ctx, m)
		require.NoError(t, err)
	}
}

// consumerDone reports whether the durable consumer has acked delivered
// messages up to stream sequence seq.
func consumerDone(t *testing.T, js jetstream.JetStream, name string, seq uint64) bool {
	t.Helper()
	c, err := js.Consumer(context.Background(), "INTAKE", name)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	if err != nil {
		return false
	}
	return info.AckFloor.Stream >= seq && info.NumAckPending == 0
}

func TestConsumerCrashAfterCommitBeforeAck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.register(t, context.Background(), false)
	b.relay(t, messaging.RelayConfig{})
	var crashed atomic.Int32
	b.processor(t, messaging.ProcessorConfig{AfterCommit: func(string, string) error {
		if crashed.Add(1) == 1 {
			return errors.New("crash between commit and ack")
		}
		return nil
	}}, applyEffect)
	testharness.Eventually(t, 10*time.Second, func() bool {
		return consumerDone(t, b.nats.JS, "scheduling_patient_registered", 1)
	})
	require.Equal(t, int32(1), crashed.Load(), "the redelivery found the event processed and did not run the effect")
	require.Equal(t, 1, applied(t, b.consumer, id))
}

func TestConsumerKilledAfterCommitRedeliveredAfterAckWait(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.register(t, context.Background(), false)
	b.relay(t, messaging.RelayConfig{})
	committed := make(chan struct{})
	block := make(chan struct{})
	// The first process commits and then hangs without acking, as if killed.
	stopFirst := b.processor(t, messaging.ProcessorConfig{AckWait: time.Second, AfterCommit: func(string, string) error {
		close(committed)
		<-block
		return errors.New("killed")
	}}, applyEffect)
	<-committed
	// A second process (a restart) takes over the durable consumer.
	b.processor(t, messaging.ProcessorConfig{AckWait: time.Second}, applyEffect)
	testharness.Eventually(t, 15*time.Second, func() bool {
		return count(t, b.consumer, `SELECT count(*) FROM processed_events`) == 1 && consumerDone(t, b.nats.JS, "scheduling_patient_registered", 1)
	})
	close(block)
	stopFirst()
	require.Equal(t, 1, applied(t, b.consumer, id))
}

func TestFailingHandlerDeadLettersAndLaterMessagesFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	poison := b.register(t, context.Background(), false)
	healthy := b.register(t, context.Background(), false)
	b.relay(t, messaging.RelayConfig{})
	var attempts atomic.Int32
	b.processor(t, messaging.ProcessorConfig{MaxAttempts: 3, Workers: 1}, func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
		if ev.Body.PatientId == poison {
			attempts.Add(1)
			return errors.New("downstream rule broken")
		}
		return applyEffect(ctx, tx, ev)
	})
	dl := waitDLQ(t, b.nats.JS, 1)[0]
	require.Equal(t, int32(3), attempts.Load())
	require.Equal(t, "3", dl.Header.Get(messaging.HeaderDLQAttempts))
	require.Contains(t, dl.Header.Get(messaging.HeaderDLQError), "downstream rule broken")
	require.Equal(t, "scheduling_patient_registered", dl.Header.Get(messaging.HeaderDLQConsumer))
	require.Equal(t, "clinicops.intake.v1.PatientRegistered", dl.Header.Get(messaging.HeaderDLQOriginalSubject))
	require.Equal(t, poison, dl.Header.Get("ce-subject"), "original headers kept")
	testharness.Eventually(t, 10*time.Second, func() bool { return applied(t, b.consumer, healthy) == 1 })
	require.Equal(t, 0, applied(t, b.consumer, poison), "a failed attempt left no effect")
}

func TestPanickingHandlerIsRecoveredAndDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.register(t, context.Background(), false)
	b.relay(t, messaging.RelayConfig{})
	b.processor(t, messaging.ProcessorConfig{MaxAttempts: 2}, func(context.Context, *sqlx.Tx, messaging.Event[*intakev1.PatientRegistered]) error {
		panic("boom")
	})
	dl := waitDLQ(t, b.nats.JS, 1)[0]
	require.Contains(t, dl.Header.Get(messaging.HeaderDLQError), "boom")
}

func TestMalformedMessagesGoToDLQWithoutCrash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	subject := "clinicops.intake.v1.PatientRegistered"
	good := func() *nats.Msg {
		m := nats.NewMsg(subject)
		m.Header.Set("ce-id", uuid.NewString())
		m.Header.Set("ce-type", subject)
		return m
	}
	badBody := good()
	badBody.Data = []byte{0xff, 0xff, 0xff}
	noID := good()
	noID.Header.Del("ce-id")
	twoIDs := good()
	twoIDs.Header.Add("ce-id", uuid.NewString())
	wrongType := good()
	wrongType.Header.Set("ce-type", "clinicops.intake.v1.Nope")
	for _, m := range []*nats.Msg{badBody, noID, twoIDs, wrongType} {
		_, err := b.nats.JS.PublishMsg(ctx, m)
		require.NoError(t, err)
	}
	id := b.register(t, ctx, false)
	b.relay(t, messaging.RelayConfig{})
	var calls atomic.Int32
	b.processor(t, messaging.ProcessorConfig{}, func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
		calls.Add(1)
		return applyEffect(ctx, tx, ev)
	})
	dls := waitDLQ(t, b.nats.JS, 4)
	for _, dl := range dls {
		require.Equal(t, "1", dl.Header.Get(messaging.HeaderDLQAttempts), "malformed messages are not retried")
		require.Contains(t, dl.Header.Get(messaging.HeaderDLQError), "malformed")
	}
	testharness.Eventually(t, 10*time.Second, func() bool { return applied(t, b.consumer, id) == 1 })
	require.Equal(t, int32(1), calls.Load(), "the handler never saw a malformed message")
}

func waitDLQ(t *testing.T, js jetstream.JetStream, n int) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	var s jetstream.Stream
	testharness.Eventually(t, 20*time.Second, func() bool {
		var err error
		s, err = js.Stream(ctx, messaging.DLQStream)
		return err == nil && s.CachedInfo().State.Msgs >= uint64(n)
	}, "waiting for %d dead letters", n)
	out := make([]*jetstream.RawStreamMsg, 0, n)
	for seq := uint64(1); len(out) < n; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

func TestTwoReplicasShareTheDurableConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var seen sync.Map
	var byReplica [2]atomic.Int32
	handler := func(replica int) messaging.HandlerFunc[*intakev1.PatientRegistered] {
		return func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
			byReplica[replica].Add(1)
			seen.Store(ev.Body.PatientId, true)
			return applyEffect(ctx, tx, ev)
		}
	}
	b.processor(t, messaging.ProcessorConfig{Workers: 2}, handler(0))
	b.processor(t, messaging.ProcessorConfig{Workers: 2}, handler(1))
	b.relay(t, messaging.RelayConfig{})
	b.relay(t, messaging.RelayConfig{}) // two relays too: one holds the lock at a time
	const n = 200
	ids := make([]string, n)
	for i := range ids {
		ids[i] = b.register(t, context.Background(), false)
	}
	testharness.Eventually(t, 30*time.Second, func() bool {
		return count(t, b.consumer, `SELECT count(*) FROM effects`) == n
	})
	require.Equal(t, n, count(t, b.consumer, `SELECT count(*) FROM effects WHERE applied = 1`), "every effect exactly once")
	require.Positive(t, byReplica[0].Load())
	require.Positive(t, byReplica[1].Load(), "both replicas took work")
	require.Equal(t, int32(n), byReplica[0].Load()+byReplica[1].Load())
}

func TestNATSThenPostgresRestartLosesNothing(t *testing.T) {
	t.Parallel()
	n := testharness.StartNATS(t, "intake")
	pg := testharness.NewCluster(t)
	pdb, pdsn := testharness.DBOn(t, pg, messaging.Migrations, appMigrations)
	cdb, _ := testharness.DBOn(t, pg, messaging.Migrations, appMigrations)
	b := withWake(&bundle{nats: n, producer: pdb, producerDS: pdsn, consumer: cdb, outbox: messaging.NewOutbox("intake", nil)})
	b.relay(t, messaging.RelayConfig{})
	b.processor(t, messaging.ProcessorConfig{}, applyEffect)
	var ids []string
	write := func(k int) {
		for range k {
			var id string
			// Writes during an outage may fail; the client retries, as after a 5xx.
			testharness.Eventually(t, 30*time.Second, func() bool {
				var err error
				id, err = tryRegister(b)
				return err == nil
			})
			ids = append(ids, id)
		}
	}
	write(20)
	require.NoError(t, n.Server.Restart())
	write(20)
	require.NoError(t, pg.Kill())
	require.NoError(t, pg.Restart(context.Background()))
	write(20)
	testharness.Eventually(t, 60*time.Second, func() bool {
		var c int
		err := cdb.Get(&c, `SELECT count(*) FROM effects`)
		return err == nil && c == len(ids)
	})
	require.Equal(t, len(ids), count(t, cdb, `SELECT count(*) FROM effects WHERE applied = 1`))
}

func tryRegister(b *bundle) (string, error) {
	id := uuid.NewString()
	ctx := context.Background()
	err := pgdb.InTx(ctx, b.producer, nil, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO things (id, n) VALUES ($1, 1)`, id); err != nil {
			return err
		}
		return b.outbox.Publish(ctx, tx, id, &intakev1.PatientRegistered{PatientId: id, Version: 1})
	})
	if err != nil {
		return "", fmt.Errorf("register: %w", err)
	}
	return id, nil
}

// TestBatchesKeepEffectsOnceAndIsolateAFailingEvent runs many events through
// 8 workers (so they share transactions), with every event published twice
// (duplicates inside one batch) and one event whose handler always fails:
// every other effect happens once and only the failing event is
// dead-lettered.
func TestBatchesKeepEffectsOnceAndIsolateAFailingEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 60
	ids := make([]string, n)
	for i := range ids {
		ids[i] = b.register(t, context.Background(), false)
	}
	poison := ids[n/2]
	b.relay(t, messaging.RelayConfig{})
	testharness.Eventually(t, 10*time.Second, func() bool { return count(t, b.producer, `SELECT count(*) FROM outbox`) == 0 })
	republishWithNewMsgIDs(t, b.nats.JS, n)
	b.processor(t, messaging.ProcessorConfig{Workers: 8, MaxAttempts: 3}, func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
		if ev.Body.PatientId == poison {
			return errors.New("this one always fails")
		}
		return applyEffect(ctx, tx, ev)
	})
	testharness.Eventually(t, 30*time.Second, func() bool {
		return count(t, b.consumer, `SELECT count(*) FROM effects`) == n-1
	})
	waitDLQ(t, b.nats.JS, 1)
	require.Equal(t, n-1, count(t, b.consumer, `SELECT count(*) FROM effects WHERE applied = 1`), "every effect exactly once")
	require.Equal(t, 0, applied(t, b.consumer, poison))
	require.Equal(t, n-1, count(t, b.consumer, `SELECT count(*) FROM processed_events`), "the failing event is not recorded as processed")
}

// TestLegacyCorrelationHeaderIsRead: an event published before correlation
// became the ce-correlationid extension (still in a stream during a rolling
// deploy) keeps its correlation id downstream.
func TestLegacyCorrelationHeaderIsRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.processor(t, messaging.ProcessorConfig{}, applyEffect)
	id := uuid.NewString()
	m, err := messaging.NewNATSMsg(ctx, "intake", id, &intakev1.PatientRegistered{PatientId: id, Version: 1}, time.Now())
	require.NoError(t, err)
	m.Header.Del(messaging.HeaderCorrelationID)
	m.Header.Set("correlation-id", "desk-legacy")
	_, err = b.nats.JS.PublishMsg(ctx, m)
	require.NoError(t, err)
	testharness.Eventually(t, 10*time.Second, func() bool { return applied(t, b.consumer, id) == 1 })
	require.Equal(t, 1, count(t, b.consumer, `SELECT count(*) FROM effects WHERE patient_id = $1 AND correlation_id = 'desk-legacy'`, id))
}
