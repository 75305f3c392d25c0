package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clinicops/clinicops/pkg/clock"
	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/followup/internal/adapters"
	"github.com/clinicops/clinicops/services/followup/internal/adapters/channels"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
	"github.com/clinicops/clinicops/services/followup/service"
)

// registered publishes a patient who consented to SMS (delivered by the
// log channel: no SMS gateway is configured).
func registered(t *testing.T, s *testharness.Service, clk clock.Clock) string {
	t.Helper()
	patient, consent := uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", patient, &intakev1.PatientRegistered{PatientId: patient, Version: 1, OccurredAt: timestamppb.New(clk.Now()),
		Phone: "+8613912345678", PreferredLanguage: "en"})
	s.Publish(t, "intake", consent, &intakev1.ConsentRecorded{PatientId: patient, ConsentId: consent, Version: 1,
		Kind: "contact_sms", OccurredAt: timestamppb.New(clk.Now())})
	return patient
}

func reminders(t *testing.T, s *testharness.Service, query string) []map[string]any {
	t.Helper()
	r := s.Do(t, httpx.RoleFrontDesk, http.MethodGet, "/v1/reminders?"+query, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var out []map[string]any
	for _, it := range r.JSON(t)["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func ofKind(rs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, r := range rs {
		if r["kind"] == kind {
			out = append(out, r)
		}
	}
	return out
}

// Billing's InvoiceOverdue, scheduling's CourseCompleted and a later
// cycle's draw, through JetStream: a payment reminder (once per invoice,
// no visit) that goes out at once, long-term follow-up at 3, 6 and 12
// months, and the next cycle's draw a week ahead.
func TestPaymentFollowUpAndNextCycleDrawFromEvents(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2027, 5, 3, 9, 0, 0, 0, time.UTC))
	s := testharness.StartService(t, service.Service, func(o *platform.Options) { o.Clock = clk },
		testharness.WithEnv(map[string]string{"FOLLOWUP_QUIET_HOURS": "off"}))
	patient := registered(t, s, clk)

	invoice := uuid.NewString()
	overdue := &billingv1.InvoiceOverdue{InvoiceId: invoice, Version: 3, OccurredAt: timestamppb.New(clk.Now()), PatientId: patient,
		Number: "INV-2027-000042", AmountDue: &billingv1.Money{Value: 123400, Currency: "CNY"}, DueDate: "2027-05-01"}
	s.Publish(t, "billing", invoice, overdue)
	s.Publish(t, "billing", invoice, overdue) // billing's job ran twice: another event, the same invoice
	testharness.Eventually(t, 20*time.Second, func() bool {
		p := ofKind(reminders(t, s, "patient_id="+patient), reminder.KindPayment)
		return len(p) == 1 && p[0]["status"] == "sent"
	}, "the payment reminder went out at once, through the log channel")
	s.WaitConsumed(t, "BILLING", "followup_invoice_overdue")
	p := ofKind(reminders(t, s, "patient_id="+patient), reminder.KindPayment)
	require.Len(t, p, 1, "one per invoice")
	require.Nil(t, p[0]["appointment_id"])
	require.Nil(t, p[0]["visit_start"])
	require.Equal(t, "log", p[0]["channel"])

	course := uuid.NewString()
	completed := clk.Now()
	s.Publish(t, "scheduling", course, &schedulingv1.CourseCompleted{CourseId: course, Version: 9, OccurredAt: timestamppb.New(completed),
		PatientId: patient, Program: "nk-auto", Infusions: 3})
	// A later cycle's draw, booked when the previous infusion was given.
	draw := uuid.NewString()
	start := clk.Now().Add(10 * 24 * time.Hour)
	s.Publish(t, "scheduling", draw, &schedulingv1.AppointmentBooked{AppointmentId: draw, Version: 1, OccurredAt: timestamppb.New(clk.Now()),
		Appointment: &schedulingv1.Appointment{AppointmentId: draw, PatientId: patient, CourseId: uuid.NewString(), Cycle: 2, Kind: "draw",
			Start: timestamppb.New(start), End: timestamppb.New(start.Add(time.Hour)), PatientPresent: true}})
	testharness.Eventually(t, 20*time.Second, func() bool {
		all := reminders(t, s, "patient_id="+patient)
		return len(ofKind(all, reminder.KindLongTermFollowUp)) == 3 && len(ofKind(all, reminder.KindNextCycleDraw)) == 1
	}, "three long-term follow-ups and the next cycle's draw")
	all := reminders(t, s, "patient_id="+patient)
	require.Equal(t, start.Add(-7*24*time.Hour).Format(time.RFC3339), ofKind(all, reminder.KindNextCycleDraw)[0]["due_at"])
	var dues []string
	for _, r := range ofKind(all, reminder.KindLongTermFollowUp) {
		dues = append(dues, r["due_at"].(string))
		require.Equal(t, "scheduled", r["status"])
	}
	require.Equal(t, []string{completed.AddDate(0, 3, 0).Format(time.RFC3339), completed.AddDate(0, 6, 0).Format(time.RFC3339),
		completed.AddDate(0, 12, 0).Format(time.RFC3339)}, dues)

	// The next cycle's draw comes due, then three months pass.
	clk.Set(start.Add(-7*24*time.Hour + time.Minute))
	testharness.Eventually(t, 20*time.Second, func() bool {
		return ofKind(reminders(t, s, "patient_id="+patient), reminder.KindNextCycleDraw)[0]["status"] == "sent"
	}, "the next cycle's draw reminder went out")
	clk.Set(completed.AddDate(0, 3, 0).Add(time.Minute))
	testharness.Eventually(t, 20*time.Second, func() bool {
		n := 0
		for _, r := range ofKind(reminders(t, s, "patient_id="+patient), reminder.KindLongTermFollowUp) {
			if r["status"] == "sent" {
				n++
			}
		}
		return n == 1
	}, "the 3-month follow-up went out, the others wait")
}

// A process dies in the middle of a send: its attempt stays 'sending' and
// its job 'running'. The next instance on the same database resumes it at
// start, minutes later, not when River would rescue the job (1 h).
func TestANewInstanceResumesASendACrashLeft(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2027, 5, 3, 9, 0, 0, 0, time.UTC))
	db, dsn := testharness.DB(t, service.Service.AllMigrations()...)
	onDB := func(o *platform.Options) { o.Clock, o.Config.DatabaseURL = clk, dsn }
	env := testharness.WithEnv(map[string]string{"FOLLOWUP_QUIET_HOURS": "off", "FOLLOWUP_SEND_TIMEOUT": "5s"})
	first := testharness.StartService(t, service.Service, onDB, env)
	patient := registered(t, first, clk)
	appointment := uuid.NewString()
	start := clk.Now().Add(30 * time.Hour)
	first.Publish(t, "scheduling", appointment, &schedulingv1.AppointmentBooked{AppointmentId: appointment, Version: 1,
		OccurredAt: timestamppb.New(clk.Now()), Appointment: &schedulingv1.Appointment{AppointmentId: appointment, PatientId: patient,
			Kind: "draw", Start: timestamppb.New(start), End: timestamppb.New(start.Add(time.Hour)), PatientPresent: true}})
	var r struct {
		ID    uuid.UUID `db:"reminder_id"`
		JobID int64     `db:"job_id"`
	}
	testharness.Eventually(t, 20*time.Second, func() bool {
		return db.Get(&r, `SELECT reminder_id, job_id FROM reminders WHERE appointment_id = $1 AND kind = 'visit_24h'`, appointment) == nil
	}, "the 24 h reminder scheduled")

	// The crash: a sender (its River job taken, as a worker takes it) dies
	// after the channel answered and before the answer was recorded. It
	// runs before the reminder's due time, so the first instance's queue
	// does not take the job meanwhile.
	_, err := db.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $2, attempted_by = '{crashed}'
		WHERE id = $1`, r.JobID, clk.Now())
	require.NoError(t, err)
	log := channels.NewLog(testharness.Logger())
	crashing := &adapters.Sender{DB: db, Outbox: first.Runtime.Outbox, Channels: map[string]app.Channel{"log": log},
		Preference: []string{"sms"}, Policy: reminder.Policy{Quiet: reminder.QuietHours{Off: true}, StaleAfter: 12 * time.Hour},
		Now: clk.Now, Location: time.UTC, MaxAttempts: 3, SendTimeout: 5 * time.Second,
		Hook: func(s adapters.Step, _ uuid.UUID) {
			if s == adapters.Answered {
				panic("crash")
			}
		}}
	crashedAt := clk.Now()
	require.Panics(t, func() { _, _ = crashing.Deliver(context.Background(), r.ID, 1) })
	var attempt string
	require.NoError(t, db.Get(&attempt, `SELECT status FROM reminder_attempts WHERE reminder_id = $1`, r.ID))
	require.Equal(t, "sending", attempt)

	// A minute later (past the send timeout, far short of an hour), a new
	// instance starts on the same database.
	clk.Advance(time.Minute)
	second := testharness.StartService(t, service.Service, onDB, env)
	testharness.Eventually(t, 20*time.Second, func() bool {
		got := reminders(t, second, "appointment_id="+appointment+"&status=sent")
		return len(got) == 1 && got[0]["kind"] == "visit_24h"
	}, "resumed at start: sent again with the same key through the idempotent log channel")
	var outcomes []string
	require.NoError(t, db.Select(&outcomes, `SELECT status FROM reminder_attempts WHERE reminder_id = $1 ORDER BY attempt`, r.ID))
	require.Equal(t, []string{"in_doubt", "sent"}, outcomes)
	var state string
	require.NoError(t, db.Get(&state, `SELECT state FROM river_job WHERE id = $1`, r.JobID))
	require.Equal(t, "running", state, "River has not rescued the job: the sweep did it")
	require.Less(t, clk.Now().Sub(crashedAt), time.Hour, "the test's clock moved a minute, not River's hour")
}

// An invoice paid or voided owes nothing: its payment reminder, held by
// quiet hours, is dropped when billing says it is paid; and one whose
// settlement arrives before the overdue event (two consumers, no order
// between them) is never scheduled at all.
func TestPaidOrVoidedInvoiceDropsItsPaymentReminder(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2027, 5, 3, 14, 0, 0, 0, time.UTC)) // 22:00 in Shanghai: quiet hours
	s := testharness.StartService(t, service.Service, func(o *platform.Options) { o.Clock = clk })
	patient := registered(t, s, clk)
	overdue := func(invoice string) *billingv1.InvoiceOverdue {
		return &billingv1.InvoiceOverdue{InvoiceId: invoice, Version: 3, OccurredAt: timestamppb.New(clk.Now()), PatientId: patient,
			Number: "INV-2027-000042", AmountDue: &billingv1.Money{Value: 123400, Currency: "CNY"}, DueDate: "2027-05-01"}
	}
	payments := func() []map[string]any { return ofKind(reminders(t, s, "patient_id="+patient), reminder.KindPayment) }

	held := uuid.NewString()
	s.Publish(t, "billing", held, overdue(held))
	testharness.Eventually(t, 20*time.Second, func() bool { return len(payments()) == 1 }, "the payment reminder scheduled")
	s.Publish(t, "billing", held, &billingv1.InvoicePaid{InvoiceId: held, Version: 4, OccurredAt: timestamppb.New(clk.Now()),
		PatientId: patient, Number: "INV-2027-000042"})
	testharness.Eventually(t, 20*time.Second, func() bool {
		p := payments()
		return len(p) == 1 && p[0]["status"] == "cancelled" && p[0]["reason"] == "invoice_paid"
	}, "paid: its reminder dropped")

	early := uuid.NewString()
	s.Publish(t, "billing", early, &billingv1.InvoiceVoided{InvoiceId: early, Version: 4, OccurredAt: timestamppb.New(clk.Now()),
		PatientId: patient, Number: "INV-2027-000043"})
	s.WaitConsumed(t, "BILLING", "followup_invoice_voided")
	s.Publish(t, "billing", early, overdue(early))
	s.WaitConsumed(t, "BILLING", "followup_invoice_overdue")
	p := payments()
	require.Len(t, p, 2)
	for _, r := range p {
		require.Equal(t, "cancelled", r["status"])
	}
	require.ElementsMatch(t, []any{"invoice_paid", "invoice_voided"}, []any{p[0]["reason"], p[1]["reason"]})
	// The morning comes: the job quiet hours held runs, finds its reminder
	// cancelled and sends nothing.
	clk.Set(time.Date(2027, 5, 4, 0, 1, 0, 0, time.UTC))
	testharness.Eventually(t, 20*time.Second, func() bool {
		return s.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'followup.reminder' AND state NOT IN ('cancelled', 'completed')`) == 0
	}, "every payment reminder's job ended")
	for _, r := range payments() {
		require.Equal(t, "cancelled", r["status"], "none went out")
	}
}
