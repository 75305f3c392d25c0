package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clinicops/clinicops/pkg/devstack"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
)

const (
	insertThing  = `INSERT INTO things (id, payload) VALUES ($1, $2)`
	insertEffect = `INSERT INTO effects (id, applied) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET applied = effects.applied + 1`
	// insertOutboxRow is what messaging.Outbox writes for one event.
	insertOutboxRow = `INSERT INTO outbox (event_id, subject, payload, headers) VALUES ($1, $2, $3, $4)`
)

// patient is a realistic registration: the event is about 200 bytes of
// protobuf, the business row about 300 bytes of JSON.
func patient(id string) *intakev1.PatientRegistered {
	return &intakev1.PatientRegistered{
		PatientId:         id,
		Version:           1,
		OccurredAt:        timestamppb.Now(),
		FamilyName:        "王",
		GivenName:         "秀英",
		BirthDate:         "1987-03-14",
		Sex:               "female",
		Phone:             "+8613800138000",
		Email:             "wang.xiuying.1987@example-clinic-patients.cn",
		PreferredLanguage: "zh-CN",
	}
}

// thingPayload is the business row's jsonb.
func thingPayload(ev *intakev1.PatientRegistered) []byte {
	b, _ := json.Marshal(map[string]any{
		"family_name": ev.FamilyName, "given_name": ev.GivenName, "birth_date": ev.BirthDate, "sex": ev.Sex,
		"phone": ev.Phone, "email": ev.Email, "preferred_language": ev.PreferredLanguage,
		"consent": map[string]bool{"sms": true, "email": true},
		"address": map[string]string{"city": "上海市", "district": "徐汇区", "line1": "漕溪北路 88 号 3 号楼 1203 室"},
	})
	return b
}

// rig is the pipeline under test for one phase: the intake database with
// its outbox and relay, JetStream, and the scheduling database with its
// processor. Each phase builds its own from scratch.
type rig struct {
	log        *slog.Logger
	pg         *devstack.Postgres
	js         *jsServer
	intake     *database
	scheduling *database
	outbox     *messaging.Outbox
	wake       *messaging.Wake // shared by outbox and relay, as in platform.Runtime

	// Counters and timestamps (UnixNano) the phases read.
	produced   atomic.Int64
	relayed    atomic.Int64
	consumed   atomic.Int64
	firstProd  atomic.Int64 // first producer commit
	lastCommit atomic.Int64 // last consumer commit

	mu         sync.Mutex
	batches    []int                // rows per relay batch
	eventToAgg map[string]string    // event id -> patient id (set by the handler)
	prodAt     map[string]time.Time // patient id -> producer commit (latency phase)
	consAt     map[string]time.Time // patient id -> consumer commit (latency phase)
	track      bool                 // record per-event times

	stops []func() // stop relay / processor, in reverse order
}

func newRig(ctx context.Context, log *slog.Logger, pg *devstack.Postgres) (*rig, error) {
	wake := messaging.NewWake()
	r := &rig{log: log, pg: pg, outbox: messaging.NewOutbox("intake", nil).WakeOnCommit(wake), wake: wake,
		eventToAgg: map[string]string{}, prodAt: map[string]time.Time{}, consAt: map[string]time.Time{}}
	var err error
	if r.js, err = startJetStream(ctx, log); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if r.intake, err = freshDB(ctx, pg, "intake", 24, messaging.Migrations, producerMigrations); err != nil {
		r.close()
		return nil, fmt.Errorf("intake db: %w", err)
	}
	if r.scheduling, err = freshDB(ctx, pg, "scheduling", 40, messaging.Migrations, consumerMigrations); err != nil {
		r.close()
		return nil, fmt.Errorf("scheduling db: %w", err)
	}
	return r, nil
}

// close stops the relay and the processor, then drops the databases and the
// JetStream server.
func (r *rig) close() {
	for i := len(r.stops) - 1; i >= 0; i-- {
		r.stops[i]()
	}
	r.stops = nil
	r.scheduling.drop()
	r.intake.drop()
	if r.js != nil {
		r.js.close()
	}
}

// startRelay runs the intake relay, woken after each producer commit by the
// outbox (pgdb.AfterCommit), polling as configured by default.
func (r *rig) startRelay() error {
	js, err := r.js.connect()
	if err != nil {
		return err
	}
	relay := messaging.NewRelay(messaging.RelayConfig{
		DB:   r.intake.db,
		Wake: r.wake,
		JS:   js,
		Log:  r.log,
		AfterPublish: func(n int) error {
			r.relayed.Add(int64(n))
			r.mu.Lock()
			r.batches = append(r.batches, n)
			r.mu.Unlock()
			return nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = relay.Run(ctx) }()
	r.stops = append(r.stops, func() { cancel(); <-done })
	return nil
}

// startProcessor runs the scheduling processor with one handler whose effect
// is an upsert into effects; the platform adds the processed_events row.
func (r *rig) startProcessor(ctx context.Context, service string, workers int) (stop func(), err error) {
	js, err := r.js.connect()
	if err != nil {
		return nil, err
	}
	p, err := messaging.NewProcessor(messaging.ProcessorConfig{
		Service: service,
		DB:      r.scheduling.db,
		JS:      js,
		Log:     r.log,
		Workers: workers,
		AfterCommit: func(_, eventID string) error {
			now := time.Now()
			r.consumed.Add(1)
			r.lastCommit.Store(now.UnixNano())
			if r.track {
				r.mu.Lock()
				if agg, ok := r.eventToAgg[eventID]; ok {
					r.consAt[agg] = now
				}
				r.mu.Unlock()
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	err = messaging.Handle(p, "patient_registered", func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
		if r.track {
			r.mu.Lock()
			r.eventToAgg[ev.ID] = ev.Body.PatientId
			r.mu.Unlock()
		}
		_, err := tx.ExecContext(ctx, insertEffect, ev.Body.PatientId)
		return err
	})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	select {
	case <-p.Running():
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("processor: %w", err)
	case <-ctx.Done():
		cancel()
		return nil, errors.Join(ctx.Err(), <-done)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				r.log.Warn("processor stopped", "err", err)
			}
		})
	}
	r.stops = append(r.stops, stop)
	return stop, nil
}

// produce registers one patient the way intake does: the business row and
// its event in one transaction, through messaging.Outbox.
func (r *rig) produce(ctx context.Context) error {
	id := uuid.NewString()
	ev := patient(id)
	err := pgdb.InTx(ctx, r.intake.db, nil, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, insertThing, id, thingPayload(ev)); err != nil {
			return err
		}
		return r.outbox.Publish(ctx, tx, id, ev)
	})
	if err != nil {
		return err
	}
	now := time.Now()
	r.firstProd.CompareAndSwap(0, now.UnixNano())
	r.produced.Add(1)
	if r.track {
		r.mu.Lock()
		r.prodAt[id] = now
		r.mu.Unlock()
	}
	return nil
}

// produceN runs workers producers until n events are committed.
func (r *rig) produceN(ctx context.Context, workers int, n int64) error {
	var next atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				if err := r.produce(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// waitConsumed waits until the processor committed n events.
func (r *rig) waitConsumed(ctx context.Context, n int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for r.consumed.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("consumed %d of %d events within %s (produced %d, relayed %d)",
				r.consumed.Load(), n, within, r.produced.Load(), r.relayed.Load())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// batchStats summarises the relay's batch sizes.
func (r *rig) batchStats() string {
	r.mu.Lock()
	b := append([]int(nil), r.batches...)
	r.mu.Unlock()
	if len(b) == 0 {
		return "no relay batches"
	}
	s := make([]float64, len(b))
	total := 0
	for i, v := range b {
		s[i] = float64(v)
		total += v
	}
	sortFloats(s)
	return fmt.Sprintf("relay: %d batches, rows/batch mean %.1f p50 %.0f p95 %.0f max %.0f",
		len(b), float64(total)/float64(len(b)), quantile(s, 0.50), quantile(s, 0.95), s[len(s)-1])
}

// sampler records produced/relayed/consumed every interval until stopped,
// to show where a backlog builds up.
func (r *rig) sampler(interval time.Duration) (stop func() []string) {
	var lines []string
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		var pp, pr, pc int64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			p, rl, c := r.produced.Load(), r.relayed.Load(), r.consumed.Load()
			sec := interval.Seconds()
			lines = append(lines, fmt.Sprintf("t=%5.1fs produced %6d (%5.0f/s) relayed %6d (%5.0f/s) consumed %6d (%5.0f/s) | outbox backlog %5d, stream backlog %5d",
				time.Since(start).Seconds(), p, float64(p-pp)/sec, rl, float64(rl-pr)/sec, c, float64(c-pc)/sec, p-rl, rl-c))
			pp, pr, pc = p, rl, c
		}
	}()
	return func() []string {
		close(done)
		<-finished
		return lines
	}
}
