package adapters_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/riverqueue/river"

	"github.com/clinicops/clinicops/pkg/clock"
	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
	"github.com/clinicops/clinicops/services/billing/migrations"
)

var shanghai = func() *time.Location { l, _ := time.LoadLocation("Asia/Shanghai"); return l }()

type bundle struct {
	db      *sqlx.DB
	store   *adapters.Store
	billing *app.Billing
	clock   *clock.Fake
}

func setup(t *testing.T) bundle {
	t.Helper()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	fake := clock.NewFake(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
	require.NoError(t, adapters.Seed(context.Background(), db, fake.Now()))
	require.NoError(t, jobs.Migrate(context.Background(), db, testharness.Logger()))
	b := bundle{db: db, store: &adapters.Store{DB: db, Outbox: messaging.NewOutbox("billing", fake.Now)},
		billing: &app.Billing{Clock: fake, Location: shanghai, Terms: policy.ScheduleOptions{DepositDueDays: 7, InstalmentLeadDays: 14}},
		clock:   fake}
	workers := river.NewWorkers()
	river.AddWorker(workers, &adapters.OverdueCheckWorker{Store: b.store, App: b.billing})
	jc, err := jobs.New(jobs.Config{DB: db, Log: testharness.Logger(), Clock: fake, Workers: workers})
	require.NoError(t, err)
	b.store.Jobs = jc
	return b
}

func (b bundle) patient(t *testing.T) uuid.UUID {
	t.Helper()
	id := uuid.New()
	a, err := account.Open(id, "CNY", 1, b.clock.Now())
	require.NoError(t, err)
	open(t, b.db, a)
	return id
}

// nkCycles is NK autologous's plan: initial ×3, consolidation ×2,
// maintenance ×1, a month apart.
func nkCycles() []app.PlannedCycle {
	phases := []string{"initial", "initial", "initial", "consolidation", "consolidation", "maintenance"}
	out := make([]app.PlannedCycle, len(phases))
	for i, ph := range phases {
		out[i] = app.PlannedCycle{Number: i + 1, Phase: ph, TargetDate: time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC).AddDate(0, i, 0)}
	}
	return out
}

func (b bundle) plan(t *testing.T, patient uuid.UUID, version int64, replanned bool) uuid.UUID {
	t.Helper()
	course := uuid.New()
	b.planCourse(t, course, patient, version, replanned)
	return course
}

func (b bundle) planCourse(t *testing.T, course, patient uuid.UUID, version int64, replanned bool) {
	t.Helper()
	require.NoError(t, b.store.Do(context.Background(), func(r app.Repositories) error {
		return b.billing.CoursePlanned(context.Background(), r, app.Course{ID: course, PatientID: patient, Program: "nk-autologous",
			ProtocolVersion: "NK-AUTO-2026.1", Status: "planned", Version: version, UpdatedAt: b.clock.Now()}, nkCycles(), replanned)
	}))
}

// published decodes the outbox, in order: each event's subject and account
// sequence.
func published(t *testing.T, db *sqlx.DB) (subjects []string, seqs []int64) {
	t.Helper()
	var rows []struct {
		Subject string `db:"subject"`
		Payload []byte `db:"payload"`
	}
	require.NoError(t, db.Select(&rows, `SELECT subject, payload FROM outbox ORDER BY id`))
	for _, r := range rows {
		var m interface {
			proto.Message
			GetAccountSequence() int64
		}
		switch r.Subject {
		case "clinicops.billing.v1.InvoiceIssued":
			m = &billingv1.InvoiceIssued{}
		case "clinicops.billing.v1.PaymentRecorded":
			m = &billingv1.PaymentRecorded{}
		case "clinicops.billing.v1.InvoicePaid":
			m = &billingv1.InvoicePaid{}
		case "clinicops.billing.v1.DepositPaid":
			m = &billingv1.DepositPaid{}
		case "clinicops.billing.v1.RevenueRecognised":
			m = &billingv1.RevenueRecognised{}
		case "clinicops.billing.v1.InvoiceOverdue":
			m = &billingv1.InvoiceOverdue{}
		case "clinicops.billing.v1.RefundIssued":
			m = &billingv1.RefundIssued{}
		case "clinicops.billing.v1.CreditNoteIssued":
			m = &billingv1.CreditNoteIssued{}
		case "clinicops.billing.v1.LedgerPosted":
			m = &billingv1.LedgerPosted{}
		default:
			t.Fatalf("unexpected event %s", r.Subject)
		}
		require.NoError(t, proto.Unmarshal(r.Payload, m))
		subjects = append(subjects, r.Subject[len("clinicops.billing.v1."):])
		seqs = append(seqs, m.GetAccountSequence())
	}
	return subjects, seqs
}

func cnyM(t *testing.T, fen int64) money.Money {
	t.Helper()
	m, err := money.New(fen, money.CNY)
	require.NoError(t, err)
	return m
}

func (b bundle) summary(t *testing.T, patient uuid.UUID) ledger.Summary {
	t.Helper()
	var s ledger.Summary
	require.NoError(t, b.store.Do(context.Background(), func(r app.Repositories) error {
		book, err := r.Ledger().Book(context.Background(), patient)
		if err == nil {
			s = book.Summary()
			require.Empty(t, ledger.Check(book.Postings()))
		}
		return err
	}))
	return s
}

// TestPlannedCourseIsInvoicedOnce: a first plan issues the deposit and the
// five instalments, numbered without a gap, posted (52,000.00 owed) and
// published with the account's sequence 1..6; the same event again, a
// stale one or a re-plan issue nothing.
func TestPlannedCourseIsInvoicedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	patient := b.patient(t)
	course := b.plan(t, patient, 1, false)
	b.planCourse(t, course, patient, 1, false) // redelivered
	b.planCourse(t, course, patient, 2, true)  // re-planned

	var numbers []string
	require.NoError(t, b.db.Select(&numbers, `SELECT number FROM invoices WHERE course_id = $1 ORDER BY number`, course))
	require.Equal(t, []string{"INV-2026-000001", "INV-2026-000002", "INV-2026-000003", "INV-2026-000004", "INV-2026-000005", "INV-2026-000006"}, numbers)
	var kind string
	require.NoError(t, b.db.Get(&kind, `SELECT kind FROM invoices WHERE number = 'INV-2026-000001'`))
	require.Equal(t, "deposit", kind)
	subjects, seqs := published(t, b.db)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, seqs)
	require.Equal(t, slices.Repeat([]string{"InvoiceIssued", "LedgerPosted"}, 6), subjects, "each invoice, then its posting")
	s := b.summary(t, patient)
	require.Equal(t, cnyM(t, 5_200_000), s.Owed)
	require.Equal(t, cnyM(t, 5_200_000), s.Deferred, "prepaid course money, not yet earned")
}

// TestPaymentsPayTheDepositFirstAndNeverTwice: the deposit paid in full
// publishes InvoicePaid and DepositPaid after PaymentRecorded, in account
// sequence; an overpayment beyond everything owed becomes account credit;
// a reference recorded before, and zero, negative, absurd or foreign
// amounts are refused and change nothing.
func TestPaymentsPayTheDepositFirstAndNeverTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	patient := b.patient(t)
	b.plan(t, patient, 1, false)
	pay := func(ref string, amount money.Money) (app.Payment, error) {
		var p app.Payment
		err := b.store.Do(ctx, func(r app.Repositories) (err error) {
			p, err = b.billing.RecordPayment(ctx, r, app.PaymentInput{PatientID: patient, Amount: amount, Method: "card",
				ExternalReference: ref, ReceivedAt: b.clock.Now()})
			return err
		})
		return p, err
	}
	p, err := pay("POS-0001", cnyM(t, 1_200_000))
	require.NoError(t, err)
	require.Len(t, p.Allocations, 1)
	require.Equal(t, "INV-2026-000001", p.Allocations[0].Number)
	subjects, seqs := published(t, b.db)
	require.Equal(t, []string{"PaymentRecorded", "InvoicePaid", "DepositPaid", "LedgerPosted"}, subjects[12:])
	require.Equal(t, []int64{13, 14, 15, 16}, seqs[12:])

	_, err = pay("POS-0001", cnyM(t, 1_200_000))
	require.ErrorIs(t, err, app.ErrDuplicatePayment)
	usd, err := money.New(100, money.USD)
	require.NoError(t, err)
	for _, bad := range []money.Money{cnyM(t, 0), cnyM(t, -100), cnyM(t, money.MaxAmount+1), usd} {
		_, err := pay("POS-BAD", bad)
		require.Error(t, err, bad.String())
	}
	require.Len(t, func() []string { s, _ := published(t, b.db); return s }(), 16, "refused payments publish nothing")

	p, err = pay("POS-0002", cnyM(t, 4_100_000)) // 40,000 owed in instalments, 1,000 more
	require.NoError(t, err)
	require.Len(t, p.Allocations, 5)
	require.Equal(t, cnyM(t, 100_000), p.ToAccountCredit)
	s := b.summary(t, patient)
	require.True(t, s.Owed.IsZero())
	require.Equal(t, cnyM(t, 100_000), s.AccountCredit)
	require.Equal(t, cnyM(t, 5_300_000), s.PaidIn)
}

// TestRevenueIsRecognisedAsTheCourseIsGiven: the lab fee when the culture
// starts, the cycle's share of the course price (less the lab fee) when
// its infusion is given; each once, however often asked.
func TestRevenueIsRecognisedAsTheCourseIsGiven(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	patient := b.patient(t)
	course := b.plan(t, patient, 1, false)
	do := func(fn func(r app.Repositories) error) { require.NoError(t, b.store.Do(ctx, fn)) }
	for range 2 {
		do(func(r app.Repositories) error { return b.billing.CultureStarted(ctx, r, course, 1) })
	}
	s := b.summary(t, patient)
	require.Equal(t, cnyM(t, 300_000), s.Revenue, "the lab fee is earned at culture start")
	for range 2 {
		do(func(r app.Repositories) error { return b.billing.InfusionGiven(ctx, r, course, 1) })
	}
	s = b.summary(t, patient)
	// 52,000.00 over six cycles is 8,666.67 for each of the first four
	// (largest remainder), of which the lab fee was earned already.
	require.Equal(t, cnyM(t, 866_667), s.Revenue)
	require.Equal(t, cnyM(t, 5_200_000-866_667), s.Deferred)
	var revenueEvents int
	require.NoError(t, b.db.Get(&revenueEvents, `SELECT count(*) FROM outbox WHERE subject = 'clinicops.billing.v1.RevenueRecognised'`))
	require.Equal(t, 2, revenueEvents, "one per recognition, none for the repeats")
}

// TestUnpaidInvoiceBecomesOverdueByTheDurableJob: the day after its due
// date (the clinic's), the job marks an invoice still owed overdue and
// publishes InvoiceOverdue once; a paid one stays paid.
func TestUnpaidInvoiceBecomesOverdueByTheDurableJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.store.Jobs.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	patient := b.patient(t)
	course := b.plan(t, patient, 1, false)
	var deposit uuid.UUID
	require.NoError(t, b.db.Get(&deposit, `SELECT id FROM invoices WHERE course_id = $1 AND kind = 'deposit'`, course))
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.billing.RecordPayment(ctx, r, app.PaymentInput{PatientID: patient, Amount: cnyM(t, 1_200_000), Method: "cash",
			ExternalReference: "CASH-1", ReceivedAt: b.clock.Now(), Allocations: []app.AllocationInput{{InvoiceID: deposit, Amount: cnyM(t, 1_200_000)}}})
		return err
	}))
	var dueSoon int
	require.NoError(t, b.db.Get(&dueSoon, `SELECT count(*) FROM invoices WHERE course_id = $1 AND status = 'issued' AND due_date = '2026-12-08'`, course))
	require.Equal(t, 1, dueSoon, "cycle 1's instalment is due with the deposit")
	b.clock.Set(time.Date(2026, 12, 9, 0, 1, 0, 0, shanghai)) // the day after, local
	status := func(kind string, due string) string {
		var s string
		require.NoError(t, b.db.Get(&s, `SELECT status FROM invoices WHERE course_id = $1 AND kind = $2 AND due_date = $3`, course, kind, due))
		return s
	}
	testharness.Eventually(t, 15*time.Second, func() bool { return status("instalment", "2026-12-08") == "overdue" }, "the instalment is overdue")
	testharness.Eventually(t, 15*time.Second, func() bool {
		var due int
		require.NoError(t, b.db.Get(&due, `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded') AND scheduled_at <= $1`, b.clock.Now()))
		return due == 0
	}, "every due check ran")
	require.Equal(t, "paid", status("deposit", "2026-12-08"))
	subjects, _ := published(t, b.db)
	overdue := 0
	for _, s := range subjects {
		if s == "InvoiceOverdue" {
			overdue++
		}
	}
	require.Equal(t, 1, overdue)
}

// TestLedgerCheckFindsWhatIsWrong: a clean ledger passes; a posting lost
// (deleted behind the service's back) shows as a sequence gap and as the
// ledger no longer agreeing with the invoices; a payment recorded without
// its posting, as payments not agreeing.
func TestLedgerCheckFindsWhatIsWrong(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	patient := b.patient(t)
	b.plan(t, patient, 1, false)
	q := adapters.Queries{DB: b.db}
	rep, err := q.LedgerCheck(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.Violations)
	require.Equal(t, 6, rep.Postings)

	_, err = b.db.Exec(`DELETE FROM postings WHERE patient_id = $1 AND sequence = 3`, patient)
	require.NoError(t, err)
	_, err = b.db.Exec(`INSERT INTO payments (id, patient_id, amount, currency, method, external_reference, received_at, allocations, to_account_credit, created_at)
		VALUES ($1, $2, 100, 'CNY', 'cash', 'LOST-1', now(), '[]', 100, now())`, uuid.New(), patient)
	require.NoError(t, err)
	rep, err = q.LedgerCheck(ctx)
	require.NoError(t, err)
	rules := map[string]bool{}
	for _, v := range rep.Violations {
		rules[v.Rule] = true
		require.Equal(t, patient, v.PatientID)
	}
	require.True(t, rules["sequence_gap"], "%v", rep.Violations)
	require.True(t, rules["invoices_agree"], "%v", rep.Violations)
	require.True(t, rules["payments_agree"], "%v", rep.Violations)
}

// payDeposit plans a course for a new patient and pays its deposit.
func (b bundle) payDeposit(t *testing.T) (patient, deposit uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	patient = b.patient(t)
	course := b.plan(t, patient, 1, false)
	require.NoError(t, b.db.Get(&deposit, `SELECT id FROM invoices WHERE course_id = $1 AND kind = 'deposit'`, course))
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.billing.RecordPayment(ctx, r, app.PaymentInput{PatientID: patient, Amount: cnyM(t, 1_200_000), Method: "transfer",
			ExternalReference: "BANK-" + uuid.NewString(), ReceivedAt: b.clock.Now(),
			Allocations: []app.AllocationInput{{InvoiceID: deposit, Amount: cnyM(t, 1_200_000)}}})
		return err
	}))
	return patient, deposit
}

func (b bundle) refund(t *testing.T, patient, inv uuid.UUID, fen int64, reason string) (app.Refund, error) {
	t.Helper()
	var r app.Refund
	err := b.store.Do(context.Background(), func(repos app.Repositories) (err error) {
		r, err = b.billing.RequestRefund(context.Background(), repos, app.RefundInput{PatientID: patient, InvoiceID: inv,
			Amount: cnyM(t, fen), Reason: reason})
		return err
	})
	return r, err
}

// TestTwoRefundsRaceForTheLastOfWhatWasPaid: 12,000.00 paid, two refunds
// of 8,000.00 at once: the invoice's lock decides, one is issued and the
// other refused naming what is left; the same reason again is refused; the
// ledger shows 8,000.00 refunded and still checks.
func TestTwoRefundsRaceForTheLastOfWhatWasPaid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	patient, deposit := b.payDeposit(t)
	errs := make(chan error, 2)
	for _, reason := range []string{"patient_request", "goodwill"} {
		go func() {
			_, err := b.refund(t, patient, deposit, 800_000, reason)
			errs <- err
		}()
	}
	var ok, refused int
	for range 2 {
		err := <-errs
		var above *invoice.RefundableError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &above):
			refused++
			require.Equal(t, cnyM(t, 400_000), above.Refundable)
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 1, refused)
	_, err := b.refund(t, patient, deposit, 100, "goodwill")
	_, err2 := b.refund(t, patient, deposit, 100, "patient_request")
	require.True(t, errors.Is(err, invoice.ErrDuplicateRefund) || errors.Is(err2, invoice.ErrDuplicateRefund), "the same reason twice")
	s := b.summary(t, patient)
	require.Equal(t, cnyM(t, 800_000+100), s.Refunded, "8,000.00, and 1 fen for the reason not used yet")
}

// TestLargeRefundWaitsForApproval: above the limit a refund is stored
// pending, moves no money and publishes nothing until an admin approves
// it, once.
func TestLargeRefundWaitsForApproval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.billing.ApprovalAbove = cnyM(t, 500_000)
	ctx := context.Background()
	patient, deposit := b.payDeposit(t)
	r, err := b.refund(t, patient, deposit, 1_000_000, "patient_request")
	require.NoError(t, err)
	require.Equal(t, app.RefundPending, r.Status)
	require.True(t, b.summary(t, patient).Refunded.IsZero())
	approve := func() error {
		return b.store.Do(ctx, func(repos app.Repositories) error {
			_, err := b.billing.ApproveRefund(ctx, repos, r.ID, "admin")
			return err
		})
	}
	require.NoError(t, approve())
	require.ErrorIs(t, approve(), app.ErrRefundNotPending)
	require.Equal(t, cnyM(t, 1_000_000), b.summary(t, patient).Refunded)
	var issued int
	require.NoError(t, b.db.Get(&issued, `SELECT count(*) FROM outbox WHERE subject = 'clinicops.billing.v1.RefundIssued'`))
	require.Equal(t, 1, issued)
}

// TestPendingRefundIsHeldToTheReasonsSettled: a refund above the approval
// limit for a reason the invoice settled before (here by a credit note)
// is refused when it is asked for, not accepted as pending only to be
// refused at approval; one for a new reason waits as before.
func TestPendingRefundIsHeldToTheReasonsSettled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.billing.ApprovalAbove = cnyM(t, 500_000)
	ctx := context.Background()
	patient, deposit := b.payDeposit(t)
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.billing.IssueCreditNote(ctx, r, app.CreditNoteInput{PatientID: patient, InvoiceID: deposit, Total: cnyM(t, 100_000),
			ReduceOwed: cnyM(t, 0), Refund: cnyM(t, 0), ToAccountCredit: cnyM(t, 100_000), Reason: "goodwill"})
		return err
	}))
	_, err := b.refund(t, patient, deposit, 600_000, "Goodwill")
	require.ErrorIs(t, err, invoice.ErrDuplicateRefund)
	var pending int
	require.NoError(t, b.db.Get(&pending, `SELECT count(*) FROM refunds WHERE patient_id = $1`, patient))
	require.Zero(t, pending)
	r, err := b.refund(t, patient, deposit, 600_000, "overcharge")
	require.NoError(t, err)
	require.Equal(t, app.RefundPending, r.Status)
}
