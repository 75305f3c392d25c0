package adapters_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	followupv1 "github.com/clinicops/clinicops/pkg/events/clinicops/followup/v1"

	"github.com/clinicops/clinicops/services/followup/internal/adapters"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

func (b *bench) standalone(subject uuid.UUID, kind string) []rem {
	b.t.Helper()
	var rows []rem
	require.NoError(b.t, b.db.Select(&rows, `SELECT reminder_id, kind, due_at AS occurrence_start, status, job_version
		FROM reminders WHERE subject_id = $1 AND kind = $2 ORDER BY step`, subject, kind))
	return rows
}

func (b *bench) overdue(h app.Standalone, invoice, patient uuid.UUID) {
	b.t.Helper()
	require.NoError(b.t, pgdbTx(b, func(w app.StandaloneWriter) error {
		return h.InvoiceOverdue(context.Background(), w, invoice, patient, "INV-2027-000042",
			reminder.Money{Minor: 123400, Currency: "CNY"}, b.clock.Now())
	}))
}

func pgdbTx(b *bench, fn func(app.StandaloneWriter) error) error {
	tx, err := b.db.Beginx()
	if err != nil {
		return err
	}
	if err := fn(b.store.Standalone(tx)); err != nil {
		return fmt.Errorf("%w (rollback: %v)", err, tx.Rollback())
	}
	return tx.Commit()
}

// A payment reminder: one per invoice however often the event comes, no
// visit, sent through the same sender with the invoice's number and amount
// and nothing else, ReminderSent without an appointment.
func TestPaymentReminderOncePerInvoiceWithoutAVisit(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	p := b.patient()
	invoice := uuid.New()
	h := app.Standalone{Location: time.UTC}
	b.overdue(h, invoice, p)
	b.overdue(h, invoice, p) // redelivered, or billing published it twice
	rs := b.standalone(invoice, reminder.KindPayment)
	require.Len(t, rs, 1, "one payment reminder per invoice")
	var jobs int
	require.NoError(t, b.db.Get(&jobs, `SELECT count(*) FROM river_job WHERE args->>'reminder_id' = $1`, rs[0].ID.String()))
	require.Equal(t, 1, jobs, "one durable job")

	var got []string
	var mu sync.Mutex
	b.ch.onSend = func(m app.Message) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m.Body)
		return nil
	}
	res, err, crashed := deliver(b.sender(nil), rs[0])
	require.NoError(t, err)
	require.False(t, crashed)
	require.Zero(t, res)
	require.Equal(t, "sent", b.status(rs[0].ID), "a reminder of no visit is not dropped by visit checks")
	require.Len(t, got, 1)
	require.Contains(t, got[0], "INV-2027-000042")
	require.Contains(t, got[0], "1,234.00 CNY")
	require.NotContains(t, got[0], "+8613800138000", "no contact details in the text")
	var payload []byte
	require.NoError(t, b.db.Get(&payload, `SELECT payload FROM outbox WHERE subject = 'clinicops.followup.v1.ReminderSent'`))
	var sent followupv1.ReminderSent
	require.NoError(t, proto.Unmarshal(payload, &sent))
	require.Empty(t, sent.GetAppointmentId(), "ReminderSent names no appointment")
	require.Equal(t, reminder.KindPayment, sent.GetKind())
	require.Equal(t, 1, b.events("clinicops.followup.v1.ReminderSent"))
}

// Consent and quiet hours hold for a payment reminder as for any other.
func TestPaymentReminderConsentAndQuietHours(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	h := app.Standalone{Location: time.UTC}
	// r0 is 09:00 UTC; in Shanghai 17:00: quiet hours 21:00-08:00 there
	// start at 13:00 UTC.
	b.clock.Set(r0.Add(5 * time.Hour))
	p, invoice := b.patient(), uuid.New()
	b.overdue(h, invoice, p)
	s := b.sender(nil)
	s.Location, _ = time.LoadLocation("Asia/Shanghai")
	s.Policy.Quiet, _ = reminder.ParseQuietHours(reminder.DefaultQuietHours)
	s.Policy.StaleAfter = 24 * time.Hour
	r := b.standalone(invoice, reminder.KindPayment)[0]
	res, err, _ := deliver(s, r)
	require.NoError(t, err)
	require.True(t, time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC).Equal(res.DeferUntil), "held to 08:00 Shanghai, not %s", res.DeferUntil)
	require.Equal(t, "scheduled", b.status(r.ID))
	require.Zero(t, b.ch.count(key(r.ID)))

	stranger, other := uuid.New(), uuid.New() // no contact at all
	b.overdue(h, other, stranger)
	r = b.standalone(other, reminder.KindPayment)[0]
	_, err, _ = deliver(b.sender(nil), r)
	require.NoError(t, err)
	require.Equal(t, "skipped", b.status(r.ID))
	var reason string
	require.NoError(t, b.db.Get(&reason, `SELECT reason FROM reminders WHERE reminder_id = $1`, r.ID))
	require.Equal(t, reminder.ReasonNoContact, reason)
}

// Long-term follow-up: one reminder per (course, months), on the clinic's
// calendar, unique however often the course is completed.
func TestLongTermFollowUpUniquePerCourseAndMonths(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	p, course := b.patient(), uuid.New()
	h := app.Standalone{FollowUpMonths: []int{3, 6, 12}, Location: time.UTC}
	for range 2 {
		require.NoError(t, pgdbTx(b, func(w app.StandaloneWriter) error {
			return h.CourseCompleted(context.Background(), w, course, p, r0)
		}))
	}
	rs := b.standalone(course, reminder.KindLongTermFollowUp)
	require.Len(t, rs, 3)
	for i, months := range []int{3, 6, 12} {
		require.True(t, r0.AddDate(0, months, 0).Equal(rs[i].Start), "due %d months on: %s", months, rs[i].Start)
	}
	// Configured otherwise later: the months already scheduled stay as they are.
	h.FollowUpMonths = []int{3, 24}
	require.NoError(t, pgdbTx(b, func(w app.StandaloneWriter) error {
		return h.CourseCompleted(context.Background(), w, course, p, r0)
	}))
	require.Len(t, b.standalone(course, reminder.KindLongTermFollowUp), 4)

	b.clock.Set(r0.AddDate(0, 3, 0).Add(time.Minute))
	_, err, _ := deliver(b.sender(nil), rs[0])
	require.NoError(t, err)
	require.Equal(t, "sent", b.status(rs[0].ID))
	require.Equal(t, "scheduled", b.status(rs[1].ID))
}

// The start sweep: a send a crash left 'sending' is resumed by the next
// process at once, long before River would rescue its job (1 h).
func TestStartSweepResumesASendACrashLeft(t *testing.T) {
	t.Parallel()
	for _, idempotent := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idempotent), func(t *testing.T) {
			t.Parallel()
			b := setup(t, idempotent)
			v := b.visit(b.patient(), "draw", r0.Add(30*time.Hour))
			b.book(v)
			r := b.one(v.AppointmentID, "visit_24h", v.Start)
			b.clock.Set(r0.Add(6*time.Hour + time.Minute))
			_, err, crashed := deliver(b.sender(func(s adapters.Step, id uuid.UUID) {
				if s == adapters.Answered {
					panic(errCrash)
				}
			}), r)
			require.NoError(t, err)
			require.True(t, crashed)
			require.Equal(t, 1, b.ch.count(key(r.ID)), "the message left before the crash")

			// A new process at once: the attempt may still be in flight
			// elsewhere (younger than the send timeout), so it is left.
			n, err := b.sender(nil).ResumeStuck(context.Background())
			require.NoError(t, err)
			require.Zero(t, n)
			require.Equal(t, "scheduled", b.status(r.ID))

			// Past the send timeout (5 s), far short of River's hour.
			b.clock.Advance(10 * time.Second)
			n, err = b.sender(nil).ResumeStuck(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, n)
			if idempotent {
				require.Equal(t, "sent", b.status(r.ID))
				require.Equal(t, 2, b.ch.count(key(r.ID)), "sent again with the same key")
				b.ch.mu.Lock()
				require.Len(t, b.ch.calls, 1, "one idempotency key: one message")
				b.ch.mu.Unlock()
				require.Equal(t, 1, b.events("clinicops.followup.v1.ReminderSent"))
			} else {
				require.Equal(t, "unknown", b.status(r.ID))
				require.Equal(t, 1, b.ch.count(key(r.ID)), "never resent")
				require.Equal(t, 1, b.events("clinicops.followup.v1.ReminderFailed"))
			}
			// Its job, rescued later, changes nothing.
			_, err, _ = deliver(b.sender(nil), r)
			require.NoError(t, err)
			n, err = b.sender(nil).ResumeStuck(context.Background())
			require.NoError(t, err)
			require.Zero(t, n)
			require.Equal(t, map[bool]int{true: 2, false: 1}[idempotent], b.ch.count(key(r.ID)))
		})
	}
}
