package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/followup/internal/adapters"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
	"github.com/clinicops/clinicops/services/followup/migrations"
)

// recorder is a test double of a delivery channel: it counts every Send
// and the distinct idempotency keys it delivered.
type recorder struct {
	idempotent bool
	mu         sync.Mutex
	calls      map[string]int
	// onSend, if set, runs at each Send (before it is counted).
	onSend func(app.Message) error
}

func newRecorder(idempotent bool) *recorder {
	return &recorder{idempotent: idempotent, calls: map[string]int{}}
}

func (r *recorder) Name() string     { return "sms" }
func (r *recorder) Idempotent() bool { return r.idempotent }
func (r *recorder) Send(_ context.Context, m app.Message) error {
	if r.onSend != nil {
		if err := r.onSend(m); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[m.IdempotencyKey]++
	return nil
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[key]
}

// bench is one database with followup's tables and River's, the event-side
// use cases, and a sender factory; the clock is the test's.
type bench struct {
	t     *testing.T
	db    *sqlx.DB
	clock *clock.Fake
	store *adapters.Store
	h     app.Reminders
	ch    *recorder
	loc   *time.Location
}

var r0 = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

func setup(t *testing.T, idempotent bool) *bench {
	t.Helper()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	ctx := context.Background()
	require.NoError(t, jobs.Migrate(ctx, db, testharness.Logger()))
	workers := river.NewWorkers()
	river.AddWorker(workers, &adapters.ReminderWorker{})
	clk := clock.NewFake(r0)
	jc, err := jobs.New(jobs.Config{DB: db, Workers: workers, Clock: clk, Log: testharness.Logger()})
	require.NoError(t, err)
	rules, err := reminder.ParseRules(reminder.DefaultRules)
	require.NoError(t, err)
	b := &bench{t: t, db: db, clock: clk, h: app.Reminders{Rules: rules}, ch: newRecorder(idempotent), loc: time.UTC,
		store: &adapters.Store{DB: db, Outbox: messaging.NewOutbox("followup", clk.Now), Jobs: jc, Now: clk.Now}}
	return b
}

// sender is a fresh sender process on the bench's database.
func (b *bench) sender(hook func(adapters.Step, uuid.UUID)) *adapters.Sender {
	return &adapters.Sender{DB: b.db, Outbox: b.store.Outbox, Channels: map[string]app.Channel{"sms": b.ch},
		Preference: []string{"sms", "email"}, Policy: reminder.Policy{Quiet: reminder.QuietHours{Off: true}, StaleAfter: 12 * time.Hour},
		Now: b.clock.Now, Location: b.loc, MaxAttempts: 3, SendTimeout: 5 * time.Second, Hook: hook}
}

func (b *bench) tx(fn func(app.Repositories) error) {
	b.t.Helper()
	require.NoError(b.t, pgdb.InTx(context.Background(), b.db, nil, func(tx *sqlx.Tx) error { return fn(b.store.Tx(tx)) }))
}

// patient registers a patient who consented to SMS.
func (b *bench) patient() uuid.UUID {
	id := uuid.New()
	b.tx(func(r app.Repositories) error {
		ctx := context.Background()
		if err := r.Contacts().Save(ctx, contact.Contact{PatientID: id, Phone: "+8613800138000", PreferredLanguage: "en",
			Version: 1, UpdatedAt: r0}); err != nil {
			return err
		}
		return r.Contacts().SaveChannelConsent(ctx, contact.ChannelConsent{ConsentID: uuid.New(), PatientID: id,
			Channel: contact.ChannelSMS, Active: true, Version: 1, UpdatedAt: r0})
	})
	return id
}

func (b *bench) visit(patient uuid.UUID, kind string, start time.Time) reminder.Visit {
	return reminder.Visit{AppointmentID: uuid.New(), PatientID: patient, CourseID: uuid.New(), Kind: kind, Start: start,
		End: start.Add(time.Hour), PatientPresent: true, Status: reminder.VisitBooked, Version: 1, UpdatedAt: b.clock.Now()}
}

func (b *bench) book(v reminder.Visit) {
	b.t.Helper()
	b.tx(func(r app.Repositories) error { return b.h.VisitBooked(context.Background(), r, v, b.clock.Now()) })
}

type rem struct {
	ID         uuid.UUID `db:"reminder_id"`
	Kind       string    `db:"kind"`
	Start      time.Time `db:"occurrence_start"`
	Status     string    `db:"status"`
	JobVersion int64     `db:"job_version"`
}

func (b *bench) reminders(appointment uuid.UUID) map[string]rem {
	b.t.Helper()
	var rows []rem
	require.NoError(b.t, b.db.Select(&rows, `SELECT reminder_id, kind, occurrence_start, status, job_version
		FROM reminders WHERE appointment_id = $1 ORDER BY occurrence_start`, appointment))
	out := map[string]rem{}
	for _, r := range rows {
		out[r.Kind+"@"+r.Start.UTC().Format(time.RFC3339)] = r
	}
	return out
}

func (b *bench) one(appointment uuid.UUID, kind string, start time.Time) rem {
	b.t.Helper()
	r, ok := b.reminders(appointment)[kind+"@"+start.UTC().Format(time.RFC3339)]
	require.True(b.t, ok, "no %s reminder at %s", kind, start)
	return r
}

func (b *bench) status(id uuid.UUID) string {
	b.t.Helper()
	var s string
	require.NoError(b.t, b.db.Get(&s, `SELECT status FROM reminders WHERE reminder_id = $1`, id))
	return s
}

func (b *bench) events(subject string) int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.db.Get(&n, `SELECT count(*) FROM outbox WHERE subject = $1`, subject))
	return n
}

func key(id uuid.UUID) string { return "reminder-" + id.String() }

// deliver runs a sender on the reminder's job and reports whether it
// crashed (panicked in a hook).
func deliver(s *adapters.Sender, r rem) (res adapters.Result, err error, crashed bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != errCrash {
				panic(p)
			}
			crashed = true
		}
	}()
	res, err = s.Deliver(context.Background(), r.ID, r.JobVersion)
	return res, err, false
}

var errCrash = fmt.Errorf("crash")

func TestBookedMovedCancelledHeldResumed(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	p := b.patient()
	start := r0.Add(72 * time.Hour)
	v := b.visit(p, "infusion", start)
	b.book(v)
	got := b.reminders(v.AppointmentID)
	require.Len(t, got, 3, "48h, 24h and the infusion's 2h")
	for _, r := range got {
		require.Equal(t, "scheduled", r.Status)
	}
	var jobsN int
	require.NoError(t, b.db.Get(&jobsN, `SELECT count(*) FROM river_job WHERE state = 'available' AND kind = 'followup.reminder'`))
	require.Equal(t, 3, jobsN, "one durable job per reminder, inserted with it")

	// A repeated (stale) booking changes nothing.
	b.book(v)
	require.Len(t, b.reminders(v.AppointmentID), 3)

	// Rescheduled: the old ones cancelled with their jobs, new ones at the new time.
	moved := v
	moved.Version, moved.Start, moved.End = 2, start.Add(24*time.Hour), start.Add(25*time.Hour)
	b.book(moved)
	all := b.reminders(v.AppointmentID)
	require.Len(t, all, 6)
	for _, r := range all {
		want := "cancelled"
		if r.Start.Equal(moved.Start) {
			want = "scheduled"
		}
		require.Equal(t, want, r.Status, r.Kind)
	}
	require.NoError(t, b.db.Get(&jobsN, `SELECT count(*) FROM river_job WHERE state = 'available' AND kind = 'followup.reminder'`))
	require.Equal(t, 3, jobsN, "the old jobs were cancelled in the same transaction")

	// Held: dropped. Resumed: back. Cancelled: dropped.
	b.tx(func(r app.Repositories) error {
		return b.h.CourseChanged(context.Background(), r, v.CourseID, reminder.CourseOnHold, 5, b.clock.Now())
	})
	for _, r := range b.reminders(v.AppointmentID) {
		require.Equal(t, "cancelled", r.Status)
	}
	b.tx(func(r app.Repositories) error {
		return b.h.CourseChanged(context.Background(), r, v.CourseID, reminder.CourseActive, 6, b.clock.Now())
	})
	require.Equal(t, "scheduled", b.one(v.AppointmentID, "visit_24h", moved.Start).Status, "resuming schedules again")
	cancelled := moved
	cancelled.Version = 3
	b.tx(func(r app.Repositories) error { return b.h.VisitCancelled(context.Background(), r, cancelled) })
	for _, r := range b.reminders(v.AppointmentID) {
		require.Equal(t, "cancelled", r.Status)
	}
	require.NoError(t, b.db.Get(&jobsN, `SELECT count(*) FROM river_job WHERE state = 'available' AND kind = 'followup.reminder'`))
	require.Zero(t, jobsN)
}

// A crash at every step of a send, then a fresh sender on the same
// database works the job again (as River does after a crash): never two
// deliveries for an idempotent channel, never lost; a non-idempotent one
// whose send may have happened is unknown and not resent.
func TestRestartAtEveryStepOfASend(t *testing.T) {
	t.Parallel()
	steps := []adapters.Step{adapters.BeforeClaim, adapters.Claimed, adapters.Sending, adapters.Answered, adapters.Recorded, adapters.Done}
	for _, idempotent := range []bool{true, false} {
		for _, step := range steps {
			t.Run(fmt.Sprintf("idempotent=%v/step=%d", idempotent, step), func(t *testing.T) {
				t.Parallel()
				b := setup(t, idempotent)
				v := b.visit(b.patient(), "draw", r0.Add(30*time.Hour))
				b.book(v)
				r := b.one(v.AppointmentID, "visit_24h", v.Start)
				b.clock.Set(r0.Add(6*time.Hour + time.Minute)) // the 24 h reminder is due

				var once sync.Once
				_, err, crashed := deliver(b.sender(func(s adapters.Step, id uuid.UUID) {
					if s == step && id == r.ID {
						once.Do(func() { panic(errCrash) })
					}
				}), r)
				require.NoError(t, err)
				require.True(t, crashed)

				// The restart: a fresh sender (no hook) works the job again,
				// when River has rescued it (minutes later, more than a send
				// can take).
				b.clock.Advance(5 * time.Minute)
				_, err, crashed = deliver(b.sender(nil), r)
				require.NoError(t, err)
				require.False(t, crashed)
				// And once more, as a redelivered job would: nothing changes.
				_, err, _ = deliver(b.sender(nil), r)
				require.NoError(t, err)

				sends := b.ch.count(key(r.ID))
				status := b.status(r.ID)
				mayHaveLeft := step >= adapters.Sending && step <= adapters.Recorded
				switch {
				case idempotent:
					require.Equal(t, "sent", status, "never lost")
					require.GreaterOrEqual(t, sends, 1, "never lost")
					require.Equal(t, 1, b.events("clinicops.followup.v1.ReminderSent"))
					// The double delivers by key: a repeat with the same key is
					// one message. Only the steps where the message may have
					// left see a second call, and always with the same key.
					if !mayHaveLeft {
						require.Equal(t, 1, sends)
					}
					b.ch.mu.Lock()
					require.Len(t, b.ch.calls, 1, "every attempt of the reminder carries its one idempotency key: delivered once")
					b.ch.mu.Unlock()
				case !mayHaveLeft:
					require.Equal(t, "sent", status)
					require.Equal(t, 1, sends, "exactly once")
				default:
					require.Equal(t, "unknown", status, "in doubt on a channel without a key: unknown")
					require.LessOrEqual(t, sends, 1, "never resent")
					if step == adapters.Sending {
						require.Zero(t, sends)
					}
					require.Equal(t, 1, b.events("clinicops.followup.v1.ReminderFailed"))
					require.Zero(t, b.events("clinicops.followup.v1.ReminderSent"))
				}
			})
		}
	}
}

// A reschedule or a cancel racing a due reminder, many times: the
// reminder for the old time is either sent (its claim locked the visit
// before the move) or not at all; never claimed after the move committed.
func TestMoveOrCancelRacingADueReminder(t *testing.T) {
	t.Parallel()
	for _, move := range []bool{true, false} {
		t.Run(fmt.Sprintf("move=%v", move), func(t *testing.T) {
			t.Parallel()
			b := setup(t, false)
			p := b.patient()
			outcomes := map[string]int{}
			// At the moment a message leaves, its reminder must not have been
			// dropped: a drop that committed first means the send came after
			// the move or cancel.
			var dropped []string
			var mu sync.Mutex
			b.ch.onSend = func(m app.Message) error {
				var status string
				require.NoError(t, b.db.Get(&status, `SELECT status FROM reminders WHERE 'reminder-' || reminder_id = $1`, m.IdempotencyKey))
				if status != "scheduled" {
					mu.Lock()
					dropped = append(dropped, m.IdempotencyKey)
					mu.Unlock()
				}
				return nil
			}
			for i := 0; i < 40; i++ {
				b.clock.Set(r0)
				v := b.visit(p, "draw", r0.Add(30*time.Hour))
				b.book(v)
				r := b.one(v.AppointmentID, "visit_24h", v.Start)
				b.clock.Set(r0.Add(6*time.Hour + time.Minute))

				changed := v
				changed.Version = 2
				if move {
					changed.Start, changed.End = v.Start.Add(7*24*time.Hour), v.End.Add(7*24*time.Hour)
				}
				var wg sync.WaitGroup
				var sendErr, changeErr error
				wg.Add(2)
				go func() {
					defer wg.Done()
					_, sendErr = b.sender(nil).Deliver(context.Background(), r.ID, r.JobVersion)
				}()
				go func() {
					defer wg.Done()
					changeErr = pgdb.InTx(context.Background(), b.db, nil, func(tx *sqlx.Tx) error {
						if move {
							return b.h.VisitBooked(context.Background(), b.store.Tx(tx), changed, b.clock.Now())
						}
						return b.h.VisitCancelled(context.Background(), b.store.Tx(tx), changed)
					})
				}()
				wg.Wait()
				require.NoError(t, sendErr)
				require.NoError(t, changeErr)
				// A worker that runs the job again afterwards changes nothing.
				_, err := b.sender(nil).Deliver(context.Background(), r.ID, r.JobVersion)
				require.NoError(t, err)

				status := b.status(r.ID)
				outcomes[status]++
				sends := b.ch.count(key(r.ID))
				switch status {
				case "sent":
					require.Equal(t, 1, sends)
					var claimedAgainst []int64
					require.NoError(t, b.db.Select(&claimedAgainst, `SELECT visit_version FROM reminder_attempts WHERE reminder_id = $1`, r.ID))
					require.Equal(t, []int64{1}, claimedAgainst, "claimed against the visit before the change")
				case "cancelled":
					require.Zero(t, sends, "never sent after the change committed")
				default:
					t.Fatalf("reminder %s: %s", r.ID, status)
				}
				if move {
					require.Equal(t, "scheduled", b.one(v.AppointmentID, "visit_24h", changed.Start).Status, "the moved visit's reminder")
				}
			}
			require.Empty(t, dropped, "sent after the move or cancel committed")
			t.Logf("outcomes: %v", outcomes)
		})
	}
}

// Quiet hours in Berlin across the spring DST change (2027-03-28, 02:00
// CET becomes 03:00 CEST): a reminder due at 21:30 the evening before
// goes out at 08:00 on the wall clock, which is 06:00 UTC, not 07:00.
func TestQuietHoursAcrossDST(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	b.loc = berlin
	p := b.patient()
	// A visit at 09:30 CEST on the 28th with an 11 h reminder, due at
	// 21:30 CET on the 27th: inside quiet hours, across the change.
	start := time.Date(2027, 3, 28, 9, 30, 0, 0, berlin)
	b.h.Rules = []reminder.Rule{{Kind: "visit_11h", Before: 11 * time.Hour}}
	b.clock.Set(start.Add(-20 * time.Hour))
	v := b.visit(p, "infusion", start)
	b.book(v)
	r := b.one(v.AppointmentID, "visit_11h", start)
	due := start.Add(-11 * time.Hour)
	require.Equal(t, "21:30 CET", due.In(berlin).Format("15:04 MST"))
	b.clock.Set(due)

	s := b.sender(nil)
	s.Policy.Quiet, err = reminder.ParseQuietHours(reminder.DefaultQuietHours)
	require.NoError(t, err)
	res, err, _ := deliver(s, r)
	require.NoError(t, err)
	require.Equal(t, time.Date(2027, 3, 28, 6, 0, 0, 0, time.UTC), res.DeferUntil.UTC(), "08:00 CEST")
	require.Equal(t, "scheduled", b.status(r.ID))
	require.Zero(t, b.ch.count(key(r.ID)))

	b.clock.Set(res.DeferUntil)
	res, err, _ = deliver(s, r)
	require.NoError(t, err)
	require.True(t, res.DeferUntil.IsZero())
	require.Equal(t, "sent", b.status(r.ID))
	require.Equal(t, 1, b.ch.count(key(r.ID)))
}

// A reminder that fell due while the service was down goes out when it
// comes back unless past the stale limit; one for a visit that started is
// never sent.
func TestStaleAndStartedAreSkipped(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	p := b.patient()
	v := b.visit(p, "draw", r0.Add(60*time.Hour))
	b.book(v)
	r48 := b.one(v.AppointmentID, "visit_48h", v.Start)
	r24 := b.one(v.AppointmentID, "visit_24h", v.Start)
	prep := b.one(v.AppointmentID, "draw_preparation", v.Start)

	b.clock.Set(v.Start.Add(-24*time.Hour + 11*time.Hour)) // 48 h one is 35 h late, 24 h one 11 h late
	for _, r := range []rem{r48, r24} {
		_, err, _ := deliver(b.sender(nil), r)
		require.NoError(t, err)
	}
	require.Equal(t, "skipped", b.status(r48.ID))
	require.Equal(t, "sent", b.status(r24.ID), "late but within the limit")

	b.clock.Set(v.Start.Add(time.Minute))
	_, err, _ := deliver(b.sender(nil), prep)
	require.NoError(t, err)
	require.Equal(t, "skipped", b.status(prep.ID))
	var reason string
	require.NoError(t, b.db.Get(&reason, `SELECT reason FROM reminders WHERE reminder_id = $1`, prep.ID))
	require.Equal(t, reminder.ReasonVisitStarted, reason)
	require.Zero(t, b.ch.count(key(prep.ID)))
}

// No consent, no message: skipped with the reason.
func TestNoConsentIsSkipped(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	p := uuid.New()
	b.tx(func(r app.Repositories) error {
		return r.Contacts().Save(context.Background(), contact.Contact{PatientID: p, Phone: "+8613800138000",
			PreferredLanguage: "zh-CN", Version: 1, UpdatedAt: r0})
	})
	v := b.visit(p, "draw", r0.Add(30*time.Hour))
	b.book(v)
	r := b.one(v.AppointmentID, "visit_24h", v.Start)
	b.clock.Set(r0.Add(6 * time.Hour))
	_, err, _ := deliver(b.sender(nil), r)
	require.NoError(t, err)
	require.Equal(t, "skipped", b.status(r.ID))
	var reason string
	require.NoError(t, b.db.Get(&reason, `SELECT reason FROM reminders WHERE reminder_id = $1`, r.ID))
	require.Equal(t, reminder.ReasonNoConsent, reason)
	require.Zero(t, b.ch.count(key(r.ID)))
}

// TestManyRemindersClaimedAndRecordedTogether: reminders that come due
// together are claimed and recorded in shared transactions (the sender's
// batches). Delivered all at once, each by two workers (a rescued job and
// its original), with a cancelled visit, a patient without consent and a
// channel that fails for some among them, each reminder ends as it would
// alone: sent once, cancelled, skipped, or failed and retried.
func TestManyRemindersClaimedAndRecordedTogether(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	failing := map[string]bool{}
	b.ch.onSend = func(m app.Message) error {
		if failing[m.IdempotencyKey] {
			return errors.New("gateway timeout")
		}
		return nil
	}
	const n = 60
	var due []rem
	var cancelled, noConsent uuid.UUID
	for i := range n {
		p := b.patient()
		if i == 1 {
			p = uuid.New() // no contact, no consent
		}
		v := b.visit(p, "draw", r0.Add(30*time.Hour))
		b.book(v)
		r := b.one(v.AppointmentID, "visit_24h", v.Start)
		due = append(due, r)
		switch i {
		case 0:
			cancelled = r.ID
			gone := v
			gone.Version = 2
			b.tx(func(rs app.Repositories) error { return b.h.VisitCancelled(context.Background(), rs, gone) })
		case 1:
			noConsent = r.ID
		case 2, 3:
			failing[key(r.ID)] = true
		}
	}
	b.clock.Set(r0.Add(6*time.Hour + time.Minute))

	s := b.sender(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for _, r := range due {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := s.Deliver(context.Background(), r.ID, r.JobVersion)
				if err == nil && res.Retry != nil && !failing[key(r.ID)] {
					err = res.Retry
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	sent := 0
	for _, r := range due {
		switch r.ID {
		case cancelled:
			require.Equal(t, "cancelled", b.status(r.ID))
			require.Zero(t, b.ch.count(key(r.ID)))
		case noConsent:
			require.Equal(t, "skipped", b.status(r.ID))
		default:
			if failing[key(r.ID)] {
				require.Equal(t, "scheduled", b.status(r.ID), "failed, to be retried")
				var attempts []string
				require.NoError(t, b.db.Select(&attempts, `SELECT status FROM reminder_attempts WHERE reminder_id = $1`, r.ID))
				// Once, or twice when the second worker claimed it after the
				// first recorded its failure (a retry, as River's would be).
				require.NotEmpty(t, attempts)
				for _, a := range attempts {
					require.Equal(t, "failed", a)
				}
				continue
			}
			require.Equal(t, "sent", b.status(r.ID))
			require.Equal(t, 1, b.ch.count(key(r.ID)), "sent once, though two workers ran it")
			sent++
		}
	}
	require.Equal(t, n-4, sent)
	require.Equal(t, sent, b.events("clinicops.followup.v1.ReminderSent"))
}

// Quiet hours are kept where the patient lives: a reminder due at 09:00
// in the clinic's Shanghai is 02:00 in Berlin, so a patient whose zone
// intake recorded as Europe/Berlin gets it at 08:00 Berlin time; a patient
// with no zone of their own gets it at once.
func TestQuietHoursWhereThePatientLives(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	b.loc = shanghai
	abroad, home := b.patient(), b.patient()
	_, err = b.db.Exec(`UPDATE patient_contacts SET time_zone = 'Europe/Berlin' WHERE patient_id = $1`, abroad)
	require.NoError(t, err)
	start := time.Date(2027, 1, 12, 9, 0, 0, 0, shanghai).Add(24 * time.Hour)
	b.clock.Set(start.Add(-30 * time.Hour))
	var due []rem
	for _, p := range []uuid.UUID{abroad, home} {
		v := b.visit(p, "draw", start)
		b.book(v)
		due = append(due, b.one(v.AppointmentID, "visit_24h", start))
	}
	b.clock.Set(start.Add(-24 * time.Hour)) // 09:00 in Shanghai, 02:00 in Berlin

	s := b.sender(nil)
	s.Policy.Quiet, err = reminder.ParseQuietHours(reminder.DefaultQuietHours)
	require.NoError(t, err)
	res, err, _ := deliver(s, due[0])
	require.NoError(t, err)
	require.Equal(t, time.Date(2027, 1, 12, 7, 0, 0, 0, time.UTC), res.DeferUntil.UTC(), "08:00 CET")
	require.Equal(t, "scheduled", b.status(due[0].ID))
	res, err, _ = deliver(s, due[1])
	require.NoError(t, err)
	require.True(t, res.DeferUntil.IsZero(), "09:00 where the patient is: no quiet hours")
	require.Equal(t, "sent", b.status(due[1].ID))
}
