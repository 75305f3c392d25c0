package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/clinicops/clinicops/pkg/devstack"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
)

// txResult is a fixed-time run of concurrent transactions.
type txResult struct {
	count   int64
	elapsed time.Duration
	lat     []float64 // ms, sorted
	cpu     cpuUsage
}

func (r txResult) rate() float64 { return float64(r.count) / r.elapsed.Seconds() }

func (r txResult) String() string {
	return fmt.Sprintf("%d tx in %.2fs = %.0f tx/s; tx latency p50 %.2f ms p99 %.2f ms; %s",
		r.count, r.elapsed.Seconds(), r.rate(), quantile(r.lat, 0.50), quantile(r.lat, 0.99), r.cpu)
}

// ceilingOpts vary the row+outbox ceiling for the diagnostics.
type ceilingOpts struct {
	// notify adds back the pg_notify trigger the outbox had until
	// migration 0002 (neither the pipeline nor the ceiling has it now).
	notify bool
	// binaryParams opens the pool with lib/pq's binary_parameters=yes: one
	// round trip per parameterised statement instead of two (jsonb values
	// are then sent as text).
	binaryParams bool
}

// createNotifyTrigger is the commit-time NOTIFY of migration 0001, which
// 0002 dropped; the diagnostics put it back to show what it cost.
const createNotifyTrigger = `CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clinicops_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();`

// measureRowOutboxTx is the ceiling the pipeline is compared with: workers
// each committing, as fast as they can for d, one transaction holding the
// same INSERT into things and the same outbox row the pipeline's producer
// writes (protobuf body, JSON envelope headers), in plain SQL: no Watermill
// publisher, no relay, no consumer: the database's cost of the two rows and
// a durable commit, nothing else (plus a pg_notify trigger if opts.notify).
func measureRowOutboxTx(ctx context.Context, log *slog.Logger, pg *devstack.Postgres, workers int, d time.Duration, opts ceilingOpts) (txResult, error) {
	db, err := freshDB(ctx, pg, "intake", workers+4, messaging.Migrations, producerMigrations)
	if err != nil {
		return txResult{}, err
	}
	defer db.drop()
	if opts.notify {
		if _, err := db.db.ExecContext(ctx, createNotifyTrigger); err != nil {
			return txResult{}, err
		}
	}
	pool := db.db
	jsonArg := func(b []byte) any { return b }
	if opts.binaryParams {
		if pool, err = pgdb.Open(ctx, db.dsn+"&binary_parameters=yes", pgdb.PoolConfig{MaxOpenConns: workers + 4}); err != nil {
			return txResult{}, err
		}
		defer func() { _ = pool.Close() }()
		jsonArg = func(b []byte) any { return string(b) }
	}
	subject := messaging.SubjectOf((*intakev1.PatientRegistered)(nil))
	one := func() error {
		id := uuid.NewString()
		eventID := uuid.Must(uuid.NewV7()).String()
		ev := patient(id)
		body, err := proto.Marshal(ev)
		if err != nil {
			return err
		}
		headers, err := json.Marshal(map[string]string{
			messaging.HeaderSpecVersion: "1.0", messaging.HeaderID: eventID, messaging.HeaderType: subject,
			messaging.HeaderSource: "intake", messaging.HeaderTime: time.Now().UTC().Format(time.RFC3339Nano),
			messaging.HeaderSubject: id, messaging.HeaderContentType: "application/protobuf",
			messaging.HeaderCorrelationID: eventID, messaging.HeaderCausationID: "",
		})
		if err != nil {
			return err
		}
		tx, err := pool.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertThing, id, jsonArg(thingPayload(ev))); err != nil {
			_ = tx.Rollback()
			return err
		}
		if _, err := tx.ExecContext(ctx, insertOutboxRow, eventID, subject, body, jsonArg(headers)); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	// Warm the pool and the caches, untimed.
	for range workers {
		if err := one(); err != nil {
			return txResult{}, err
		}
	}
	meter := newCPUMeter(pg)
	res, err := runFor(workers, d, one)
	res.cpu = meter.since()
	return res, err
}

// measureConsumerTx is the database side of the processor alone: workers
// each committing transactions that record batch events in
// processed_events and apply their effects, in plain SQL. batch 1 is what
// the processor does today (one transaction per event); a larger batch shows
// what handling several messages per transaction would save. The result
// counts transactions; events are count*batch.
func measureConsumerTx(ctx context.Context, pg *devstack.Postgres, workers, batch int, d time.Duration) (txResult, error) {
	db, err := freshDB(ctx, pg, "scheduling", workers+4, messaging.Migrations, consumerMigrations)
	if err != nil {
		return txResult{}, err
	}
	defer db.drop()
	var processed, effects strings.Builder
	processed.WriteString(`INSERT INTO processed_events (consumer, event_id) VALUES `)
	effects.WriteString(`INSERT INTO effects (id, applied) VALUES `)
	for i := range batch {
		if i > 0 {
			processed.WriteString(",")
			effects.WriteString(",")
		}
		fmt.Fprintf(&processed, "('scheduling_patient_registered', $%d)", i+1)
		fmt.Fprintf(&effects, "($%d, 1)", i+1)
	}
	processed.WriteString(` ON CONFLICT DO NOTHING`)
	effects.WriteString(` ON CONFLICT (id) DO UPDATE SET applied = effects.applied + 1`)
	one := func() error {
		eventIDs, ids := make([]any, batch), make([]any, batch)
		for i := range batch {
			eventIDs[i], ids[i] = uuid.Must(uuid.NewV7()).String(), uuid.NewString()
		}
		tx, err := db.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, processed.String(), eventIDs...); err != nil {
			_ = tx.Rollback()
			return err
		}
		if _, err := tx.ExecContext(ctx, effects.String(), ids...); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	for range workers {
		if err := one(); err != nil {
			return txResult{}, err
		}
	}
	meter := newCPUMeter(pg)
	res, err := runFor(workers, d, one)
	res.cpu = meter.since()
	return res, err
}

// runFor runs fn in workers goroutines until d has passed and returns the
// count, the elapsed time (until the last worker stopped) and latencies.
func runFor(workers int, d time.Duration, fn func() error) (txResult, error) {
	var (
		count   atomic.Int64
		mu      sync.Mutex
		lat     []time.Duration
		firstEr error
		wg      sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<14)
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := fn(); err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	return txResult{count: count.Load(), elapsed: time.Since(start), lat: millis(lat)}, firstEr
}

// benchSubject is in the FOLLOWUP stream created by EnsureStreams (file
// storage, 10 min de-duplication window) and is read by no consumer.
const benchSubject = "clinicops.followup.bench"

// pubResult is a JetStream publish ceiling.
type pubResult struct {
	acked   int64
	failed  int64
	elapsed time.Duration
	cpu     cpuUsage
}

func (r pubResult) rate() float64 { return float64(r.acked) / r.elapsed.Seconds() }

func (r pubResult) String() string {
	return fmt.Sprintf("%d acked (%d failed) in %.2fs = %.0f msg/s; %s", r.acked, r.failed, r.elapsed.Seconds(), r.rate(), r.cpu)
}

// measurePublishAsync publishes 256-byte messages with a Nats-Msg-Id (as the
// relay does) from one client, asynchronously, for d, then waits for the
// outstanding acks. Fresh server and store.
func measurePublishAsync(ctx context.Context, log *slog.Logger, pg *devstack.Postgres, d time.Duration) (pubResult, error) {
	srv, err := startJetStream(ctx, log)
	if err != nil {
		return pubResult{}, err
	}
	defer srv.close()
	var failed atomic.Int64
	js, err := srv.connect(jetstream.WithPublishAsyncMaxPending(4000),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return pubResult{}, err
	}
	data := make([]byte, 256)
	var sent int64
	meter := newCPUMeter(pg)
	start := time.Now()
	for time.Since(start) < d {
		for range 256 {
			msg := nats.NewMsg(benchSubject)
			msg.Data = data
			msg.Header.Set(messaging.HeaderMsgID, uuid.Must(uuid.NewV7()).String())
			for {
				_, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Second))
				if err == nil {
					break
				}
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
					return pubResult{}, err
				}
				// 4,000 acks outstanding for a second: the server is slow
				// (a noisy machine); wait and go on.
			}
			sent++
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return pubResult{}, fmt.Errorf("async publish: %d acks outstanding after a minute", js.PublishAsyncPending())
	case <-ctx.Done():
		return pubResult{}, ctx.Err()
	}
	res := pubResult{acked: sent - failed.Load(), failed: failed.Load(), elapsed: time.Since(start)}
	res.cpu = meter.since()
	return res, nil
}

// measurePublishSync publishes 256-byte messages with a Nats-Msg-Id from one
// client, each waiting for its ack, for d. Fresh server and store.
func measurePublishSync(ctx context.Context, log *slog.Logger, pg *devstack.Postgres, d time.Duration) (pubResult, error) {
	srv, err := startJetStream(ctx, log)
	if err != nil {
		return pubResult{}, err
	}
	defer srv.close()
	js, err := srv.connect()
	if err != nil {
		return pubResult{}, err
	}
	data := make([]byte, 256)
	var res pubResult
	meter := newCPUMeter(pg)
	start := time.Now()
	for time.Since(start) < d {
		msg := nats.NewMsg(benchSubject)
		msg.Data = data
		msg.Header.Set(messaging.HeaderMsgID, uuid.Must(uuid.NewV7()).String())
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			res.failed++
			continue
		}
		res.acked++
	}
	res.elapsed = time.Since(start)
	res.cpu = meter.since()
	return res, nil
}
