package adapters_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
	"github.com/clinicops/clinicops/services/billing/internal/ports"
)

// propApprovalAbove is the approval limit of the property test: refunds
// above it wait for an admin, credit notes refunding more need one.
const propApprovalAbove = 100_000

// maxPropSteps bounds a history's length. With rapid's default 100 checks
// a run takes about half a minute under -race on two cores; more with
// -rapid.checks=N (or RAPID_CHECKS), fewer with -short (a fifth).
const maxPropSteps = 20

// programPlan is a program the property test plans courses of, and the
// phases of its cycles.
type programPlan struct {
	program, version string
	phases           []string
	// invoices is how many its plan issues: the deposit and the schedule.
	invoices int
}

// taxedVersion is a price list the test adds to msc: odd prices and a tax
// rate, so invoice lines carry tax rounded half to even.
const taxedVersion = "MSC-TAX-PROP"

var propPrograms = []programPlan{
	{"nk-autologous", "NK-AUTO-2026.1", []string{"initial", "initial", "initial", "consolidation", "consolidation", "maintenance"}, 6},
	{"nk-allogeneic", "NK-ALLO-2026.1", []string{"treatment", "treatment", "treatment"}, 4},
	{"msc", "MSC-2026.1", []string{"treatment", "treatment"}, 3},
	{"hsct-autologous", "HSCT-AUTO-2026.1", []string{"transplant"}, 2},
	{"msc", taxedVersion, []string{"treatment", "treatment"}, 3},
}

// reasons are few on purpose, so histories repeat them (and differ only
// by case and spaces): the same reason twice on an invoice is refused.
var propReasons = []string{"goodwill", "Goodwill ", "billing error", "course_cancelled", "duplicate charge"}

// propCourse is what the history knows of a course it planned.
type propCourse struct {
	id       uuid.UUID
	plan     programPlan
	version  int64
	cultured map[int]bool
	products []string
}

// history is one run of the property: a fresh patient and the commands
// drawn for it. Its fields are the little the commands need to aim well
// (ids to name); the truth is read back from the database.
type history struct {
	b         bundle
	q         adapters.Queries
	patient   uuid.UUID
	courses   []*propCourse
	refs      []string
	refunds   []uuid.UUID
	lastSteps []string
	// tally counts, per command, how often it was taken and refused.
	tally map[string]*[2]int
}

// TestBillingPropertiesOverRandomHistories drives billing's use cases
// against PostgreSQL with random histories of a fresh patient: courses
// planned (invoices issued), invoices and the account paid exactly, in
// part and over, duplicate and bad payments, refunds of invoices and of
// account credit (amounts within and beyond what is refundable, reasons
// repeated, large ones waiting for approval), approvals, credit notes split
// at random (sometimes not adding up, sometimes above what is owed or
// held), cultures started, infusions given, products failed and courses
// cancelled. A command may be refused, but only with one of billing's
// refusals (a 4xx), and a refusal changes nothing; the clinical events
// are never refused. After every command: the ledger check finds nothing
// on the account; refunds never exceed what was paid (in the ledger, in
// the records, per invoice, and no refund was let through above what was
// refundable); every invoice's total is the sum of its lines; and the
// account's balances, as GET /v1/accounts shows them, are the sums of its
// postings' lines and agree with its invoices and payments.
func TestBillingPropertiesOverRandomHistories(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.billing.ApprovalAbove = cnyM(t, propApprovalAbove)
	addTaxedPriceList(t, b)
	q := adapters.Queries{DB: b.db}
	runs, tally := 0, map[string]*[2]int{}
	rapid.Check(t, func(rt *rapid.T) {
		h := &history{b: b, q: q, patient: openPatient(rt, b), tally: tally}
		h.planCourse(rt)
		h.check(rt)
		steps := rapid.IntRange(1, maxPropSteps).Draw(rt, "steps")
		for range steps {
			h.step(rt, rapid.SampledFrom(propWeighted).Draw(rt, "command"))
			h.check(rt)
		}
		runs++
	})
	t.Logf("%d histories (taken/refused, shrinking included):", runs)
	for _, cmd := range propCommands {
		if n := tally[cmd]; n != nil {
			t.Logf("  %-32s %4d %4d", cmd, n[0], n[1])
		}
	}
	rep, err := q.LedgerCheck(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Violations, "the whole ledger, every history's account")
}

// addTaxedPriceList adds taxedVersion to msc, from today.
func addTaxedPriceList(t *testing.T, b bundle) {
	t.Helper()
	pl := policy.PriceList{Program: "msc", ProtocolVersion: taxedVersion, ValidFrom: date(2026, 12, 1), Currency: money.CNY,
		CoursePrice: cnyM(t, 3_000_003), Deposit: cnyM(t, 1_000_001),
		Instalments: map[string]policy.Instalment{"treatment": {Amount: cnyM(t, 1_000_001), Count: 2}},
		LabFee:      cnyM(t, 100_001), PerInfusion: cnyM(t, 300_001), TaxRate: 650}
	_, err := b.priceLists().Add(context.Background(), pl, time.Time{})
	require.NoError(t, err)
}

func openPatient(rt *rapid.T, b bundle) uuid.UUID {
	id := uuid.New()
	a, err := account.Open(id, "CNY", 1, b.clock.Now())
	require.NoError(rt, err)
	require.NoError(rt, b.store.Do(context.Background(), func(r app.Repositories) error {
		return r.Accounts().Open(context.Background(), a)
	}))
	return id
}

func fen(rt *rapid.T, v int64) money.Money {
	m, err := money.New(v, money.CNY)
	require.NoError(rt, err)
	return m
}

var propCommands = []string{
	"plan a course", "plan again", "pay an invoice exactly", "pay part of an invoice", "overpay an invoice",
	"pay the account", "pay with a reference used before", "pay a bad amount", "refund an invoice",
	"refund account credit", "issue a credit note", "start a culture", "give an infusion", "fail a product",
	"cancel a course", "approve a refund", "void an invoice",
}

// propWeighted draws money commands more often than the rest: a refund
// or a credit note needs money paid first.
var propWeighted = func() []string {
	var out []string
	for _, cmd := range propCommands {
		out = append(out, cmd)
		if strings.HasPrefix(cmd, "pay") && cmd != "pay a bad amount" || strings.HasPrefix(cmd, "refund") ||
			cmd == "issue a credit note" || cmd == "approve a refund" {
			out = append(out, cmd)
		}
	}
	return out
}()

// step runs one command.
func (h *history) step(rt *rapid.T, cmd string) {
	h.lastSteps = append(h.lastSteps, cmd)
	switch cmd {
	case "plan a course":
		if len(h.courses) >= 2 {
			h.planAgain(rt)
			return
		}
		h.planCourse(rt)
	case "plan again":
		h.planAgain(rt)
	case "pay an invoice exactly", "pay part of an invoice", "overpay an invoice":
		h.payInvoice(rt, cmd)
	case "pay the account":
		h.payAccount(rt)
	case "pay with a reference used before":
		h.payAgain(rt)
	case "pay a bad amount":
		h.payBad(rt)
	case "refund an invoice":
		h.refundInvoice(rt)
	case "refund account credit":
		h.refundCredit(rt)
	case "issue a credit note":
		h.creditNote(rt)
	case "start a culture", "give an infusion", "fail a product", "cancel a course":
		h.clinical(rt, cmd)
	case "approve a refund":
		h.approve(rt)
	case "void an invoice":
		h.void(rt)
	default:
		rt.Fatalf("unknown command %q", cmd)
	}
}

// do runs fn as a use case in one transaction and classifies the outcome:
// nil (taken, true) or one of billing's refusals (false), after which
// nothing may have changed. Any other error fails the history.
func (h *history) do(rt *rapid.T, what string, fn func(ctx context.Context, r app.Repositories) error) bool {
	ctx := context.Background()
	before := h.snapshot(rt)
	err := h.b.store.Do(ctx, func(r app.Repositories) error { return fn(ctx, r) })
	if err == nil {
		h.count(0)
		return true
	}
	require.Truef(rt, ports.Refused(err), "%s failed, not refused (a 500): %v\nhistory: %s", what, err, strings.Join(h.lastSteps, " → "))
	h.count(1)
	require.Equal(rt, before, h.snapshot(rt), "%s was refused (%v) but changed something", what, err)
	return false
}

// event runs a clinical event's handler: never refused.
func (h *history) event(rt *rapid.T, what string, fn func(ctx context.Context, r app.Repositories) error) {
	ctx := context.Background()
	err := h.b.store.Do(ctx, func(r app.Repositories) error { return fn(ctx, r) })
	require.NoErrorf(rt, err, "%s\nhistory: %s", what, strings.Join(h.lastSteps, " → "))
	h.count(0)
}

// count tallies the outcome (0 taken, 1 refused) of the last command.
func (h *history) count(outcome int) {
	cmd := "plan a course"
	if len(h.lastSteps) > 0 {
		cmd = h.lastSteps[len(h.lastSteps)-1]
	}
	if h.tally[cmd] == nil {
		h.tally[cmd] = &[2]int{}
	}
	h.tally[cmd][outcome]++
}

// snapshot is everything of the patient's a refused command must leave
// as it was (and the outbox and number series, which only this test's
// database writes).
type snapshot struct {
	Postings, Payments, Refunds, RefundsIssued, CreditNotes, Recognitions, Settlements int
	InvoiceVersions, AccountSequence                                                   int64
	Outbox                                                                             int
	InvoiceNumbers, CreditNoteNumbers                                                  int64
	Summary                                                                            ledger.Summary
}

func (h *history) snapshot(rt *rapid.T) snapshot {
	var s snapshot
	row := h.b.db.QueryRowx(`SELECT
		(SELECT count(*) FROM postings WHERE patient_id = $1),
		(SELECT count(*) FROM payments WHERE patient_id = $1),
		(SELECT count(*) FROM refunds WHERE patient_id = $1),
		(SELECT count(*) FROM refunds WHERE patient_id = $1 AND status = 'issued'),
		(SELECT count(*) FROM credit_notes WHERE patient_id = $1),
		(SELECT count(*) FROM recognitions r JOIN courses c ON c.course_id = r.course_id WHERE c.patient_id = $1),
		(SELECT count(*) FROM settlements s JOIN courses c ON c.course_id = s.course_id WHERE c.patient_id = $1),
		(SELECT coalesce(sum(version), 0) FROM invoices WHERE patient_id = $1),
		(SELECT sequence FROM accounts WHERE patient_id = $1),
		(SELECT count(*) FROM outbox),
		(SELECT coalesce(sum(last), 0) FROM invoice_numbers),
		(SELECT coalesce(sum(last), 0) FROM credit_note_numbers)`, h.patient)
	require.NoError(rt, row.Scan(&s.Postings, &s.Payments, &s.Refunds, &s.RefundsIssued, &s.CreditNotes, &s.Recognitions,
		&s.Settlements, &s.InvoiceVersions, &s.AccountSequence, &s.Outbox, &s.InvoiceNumbers, &s.CreditNoteNumbers))
	sum, err := h.q.Summary(context.Background(), h.patient)
	require.NoError(rt, err)
	s.Summary = sum
	return s
}

// invoices are the patient's issued invoices, as the API lists them.
func (h *history) invoices(rt *rapid.T) []*invoice.Invoice {
	invs, err := h.q.Invoices(context.Background(), h.patient, uuid.Nil, "")
	require.NoError(rt, err)
	return invs
}

// anInvoice draws one of the patient's invoices (any status), mostly one
// that prefer accepts when there is one: a command aimed at an invoice it
// fits is taken more often, and taken commands make the longer histories.
func (h *history) anInvoice(rt *rapid.T, prefer func(*invoice.Invoice) bool) *invoice.Invoice {
	invs := h.invoices(rt)
	var fit []*invoice.Invoice
	for _, inv := range invs {
		if prefer(inv) {
			fit = append(fit, inv)
		}
	}
	if len(fit) > 0 && rapid.IntRange(0, 4).Draw(rt, "aimed") > 0 {
		invs = fit
	}
	return invs[rapid.IntRange(0, len(invs)-1).Draw(rt, "invoice")]
}

func owing(inv *invoice.Invoice) bool   { return inv.AmountDue().IsPositive() }
func holding(inv *invoice.Invoice) bool { return inv.Refundable().IsPositive() }

// around draws an amount near limit: mostly within it or exactly it,
// otherwise beyond it by a little or a lot; at least 1.
func around(rt *rapid.T, limit int64, label string) int64 {
	limit = max(limit, 0)
	switch rapid.IntRange(0, 5).Draw(rt, label+"_kind") {
	case 0, 1, 2:
		return rapid.Int64Range(1, max(limit, 1)).Draw(rt, label)
	case 3:
		return max(limit, 1)
	case 4:
		return limit + rapid.Int64Range(1, 3).Draw(rt, label+"_over")
	default:
		return limit + rapid.Int64Range(1, 2_000_000).Draw(rt, label+"_over")
	}
}

func (h *history) planCourse(rt *rapid.T) {
	pp := rapid.SampledFrom(propPrograms).Draw(rt, "program")
	c := &propCourse{id: uuid.New(), plan: pp, version: 1, cultured: map[int]bool{}}
	h.courses = append(h.courses, c)
	h.event(rt, "plan "+pp.program, func(ctx context.Context, r app.Repositories) error {
		return h.b.billing.CoursePlanned(ctx, r, h.courseOf(c), cyclesOf(pp), false)
	})
	require.Len(rt, h.invoicesOf(rt, c.id), pp.invoices, "a planned course is invoiced: the deposit and its schedule")
}

// planAgain redelivers a course's plan, or re-plans it: nothing new is
// invoiced.
func (h *history) planAgain(rt *rapid.T) {
	c := h.aCourse(rt)
	before := len(h.invoicesOf(rt, c.id))
	replanned := rapid.Bool().Draw(rt, "replanned")
	if replanned {
		c.version++
	}
	h.event(rt, "plan again", func(ctx context.Context, r app.Repositories) error {
		return h.b.billing.CoursePlanned(ctx, r, h.courseOf(c), cyclesOf(c.plan), replanned)
	})
	require.Len(rt, h.invoicesOf(rt, c.id), before, "a course is invoiced once")
}

func (h *history) courseOf(c *propCourse) app.Course {
	return app.Course{ID: c.id, PatientID: h.patient, Program: c.plan.program, ProtocolVersion: c.plan.version,
		Status: "planned", Version: c.version, UpdatedAt: h.b.clock.Now()}
}

func cyclesOf(pp programPlan) []app.PlannedCycle {
	out := make([]app.PlannedCycle, len(pp.phases))
	for i, ph := range pp.phases {
		out[i] = app.PlannedCycle{Number: i + 1, Phase: ph, TargetDate: time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC).AddDate(0, i, 0)}
	}
	return out
}

func (h *history) invoicesOf(rt *rapid.T, course uuid.UUID) []*invoice.Invoice {
	invs, err := h.q.Invoices(context.Background(), h.patient, course, "")
	require.NoError(rt, err)
	return invs
}

func (h *history) aCourse(rt *rapid.T) *propCourse {
	return h.courses[rapid.IntRange(0, len(h.courses)-1).Draw(rt, "course")]
}

func newRef() string { return "PROP-" + uuid.NewString() }

// pay records a payment and, when it is taken, holds the account to it:
// paid in grows by the amount, which is split between what was owed and
// the account credit.
func (h *history) pay(rt *rapid.T, what string, in app.PaymentInput) {
	before := h.snapshot(rt).Summary
	if !h.do(rt, what, func(ctx context.Context, r app.Repositories) error {
		_, err := h.b.billing.RecordPayment(ctx, r, in)
		return err
	}) {
		return
	}
	h.refs = append(h.refs, in.ExternalReference)
	after := h.snapshot(rt).Summary
	require.Equal(rt, before.PaidIn.Amount()+in.Amount.Amount(), after.PaidIn.Amount(), "%s: paid in", what)
	lessOwed := before.Owed.Amount() - after.Owed.Amount()
	moreCredit := after.AccountCredit.Amount() - before.AccountCredit.Amount()
	require.GreaterOrEqual(rt, lessOwed, int64(0), what)
	require.GreaterOrEqual(rt, moreCredit, int64(0), what)
	require.Equal(rt, in.Amount.Amount(), lessOwed+moreCredit, "%s: a payment pays what is owed, the rest is account credit", what)
}

func (h *history) payInvoice(rt *rapid.T, mode string) {
	inv := h.anInvoice(rt, owing)
	due := inv.AmountDue().Amount()
	var amount int64
	switch {
	case mode == "pay an invoice exactly" && due > 0:
		amount = due
	case mode == "pay part of an invoice" && due > 1:
		amount = rapid.Int64Range(1, due-1).Draw(rt, "part")
	default:
		amount = due + rapid.Int64Range(1, 1_000_000).Draw(rt, "over")
	}
	h.pay(rt, mode, app.PaymentInput{PatientID: h.patient, Amount: fen(rt, amount), Method: rapid.SampledFrom([]string{"cash", "card", "transfer", "insurance"}).Draw(rt, "method"),
		ExternalReference: newRef(), ReceivedAt: h.b.clock.Now(),
		Allocations: []app.AllocationInput{{InvoiceID: inv.ID(), Amount: fen(rt, amount)}}})
}

func (h *history) payAccount(rt *rapid.T) {
	owed := h.snapshot(rt).Summary.Owed.Amount()
	h.pay(rt, "pay the account", app.PaymentInput{PatientID: h.patient, Amount: fen(rt, around(rt, owed, "amount")), Method: "card",
		ExternalReference: newRef(), ReceivedAt: h.b.clock.Now()})
}

// payAgain records a payment under a reference recorded before: refused.
func (h *history) payAgain(rt *rapid.T) {
	if len(h.refs) == 0 {
		h.payAccount(rt)
		return
	}
	ref := rapid.SampledFrom(h.refs).Draw(rt, "reference")
	taken := h.do(rt, "pay again", func(ctx context.Context, r app.Repositories) error {
		_, err := h.b.billing.RecordPayment(ctx, r, app.PaymentInput{PatientID: h.patient, Amount: fen(rt, 100), Method: "cash",
			ExternalReference: ref, ReceivedAt: h.b.clock.Now()})
		return err
	})
	require.False(rt, taken, "a payment reference recorded twice")
}

// payBad records a zero, negative, absurd or foreign amount: refused.
func (h *history) payBad(rt *rapid.T) {
	amounts := []func() (money.Money, error){
		func() (money.Money, error) { return money.New(0, money.CNY) },
		func() (money.Money, error) {
			return money.New(-rapid.Int64Range(1, 1_000_000).Draw(rt, "negative"), money.CNY)
		},
		func() (money.Money, error) { return money.New(money.MaxAmount+1, money.CNY) },
		func() (money.Money, error) { return money.New(10_000, money.USD) },
	}
	m, err := amounts[rapid.IntRange(0, len(amounts)-1).Draw(rt, "bad")]()
	require.NoError(rt, err)
	taken := h.do(rt, "pay "+m.String(), func(ctx context.Context, r app.Repositories) error {
		_, err := h.b.billing.RecordPayment(ctx, r, app.PaymentInput{PatientID: h.patient, Amount: m, Method: "cash",
			ExternalReference: newRef(), ReceivedAt: h.b.clock.Now()})
		return err
	})
	require.False(rt, taken, "a payment of %s was recorded", m)
}

// settledFor reports whether the invoice settled a refund or credit note
// for the reason before (compared as the invoice compares reasons).
func settledFor(inv *invoice.Invoice, reason string) bool {
	norm := func(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }
	for _, s := range inv.State().Settlements {
		if norm(s.Reason) == norm(reason) {
			return true
		}
	}
	return false
}

// refundInvoice asks for a refund on an invoice; one taken was never
// above what the invoice held refundable, nor for a reason settled on it.
func (h *history) refundInvoice(rt *rapid.T) {
	inv := h.anInvoice(rt, holding)
	refundable := inv.Refundable().Amount()
	amount := around(rt, refundable, "amount")
	reason := rapid.SampledFrom(propReasons).Draw(rt, "reason")
	var out app.Refund
	if !h.do(rt, "refund an invoice", func(ctx context.Context, r app.Repositories) (err error) {
		out, err = h.b.billing.RequestRefund(ctx, r, app.RefundInput{PatientID: h.patient, InvoiceID: inv.ID(), Amount: fen(rt, amount), Reason: reason})
		return err
	}) {
		return
	}
	require.LessOrEqual(rt, amount, refundable, "a refund above what the invoice held refundable was let through")
	require.False(rt, settledFor(inv, reason), "a refund for reason %q settled on the invoice before", reason)
	h.refunded(rt, out, amount)
}

// refunded holds the account to a refund taken: issued at once up to the
// approval limit (refunded grows by it), pending above it (nothing moves).
func (h *history) refunded(rt *rapid.T, r app.Refund, amount int64) {
	if amount > propApprovalAbove {
		require.Equal(rt, app.RefundPending, r.Status)
		h.refunds = append(h.refunds, r.ID)
		return
	}
	require.Equal(rt, app.RefundIssued, r.Status)
}

// refundCredit asks for a refund of account credit: never above it.
func (h *history) refundCredit(rt *rapid.T) {
	credit := h.snapshot(rt).Summary.AccountCredit.Amount()
	amount := around(rt, credit, "amount")
	reason := rapid.SampledFrom(propReasons).Draw(rt, "reason")
	var out app.Refund
	if !h.do(rt, "refund account credit", func(ctx context.Context, r app.Repositories) (err error) {
		out, err = h.b.billing.RequestRefund(ctx, r, app.RefundInput{PatientID: h.patient, Amount: fen(rt, amount), Reason: reason})
		return err
	}) {
		return
	}
	require.LessOrEqual(rt, amount, credit, "a refund above the account credit was let through")
	h.refunded(rt, out, amount)
}

// creditNote issues a credit note split at random: parts within and
// beyond what the invoice owes and holds, now and then not adding up. One
// taken adds up, took off at most what was owed, gave back at most what
// was held, needed an admin above the approval limit, and used a reason
// new to the invoice.
func (h *history) creditNote(rt *rapid.T) {
	inv := h.anInvoice(rt, func(inv *invoice.Invoice) bool { return owing(inv) || holding(inv) })
	due, held := inv.AmountDue().Amount(), inv.Refundable().Amount()
	var reduce, refund, toCredit, total int64
	if rapid.Bool().Draw(rt, "within") {
		// What the invoice allows, split at random.
		reduce = rapid.Int64Range(0, due).Draw(rt, "reduce_owed")
		back := rapid.Int64Range(0, held).Draw(rt, "given_back")
		refund = rapid.Int64Range(0, back).Draw(rt, "refund")
		toCredit = back - refund
		total = reduce + back
	} else {
		part := func(limit int64, label string) int64 {
			if rapid.IntRange(0, 2).Draw(rt, label+"_none") == 0 {
				return 0
			}
			return around(rt, limit, label)
		}
		reduce, refund, toCredit = part(due, "reduce_owed"), part(held/2, "refund"), part(held/2, "to_account_credit")
		total = reduce + refund + toCredit + rapid.SampledFrom([]int64{0, 0, -1, 1}).Draw(rt, "total_off")
	}
	reason := rapid.SampledFrom(propReasons).Draw(rt, "reason")
	admin := rapid.Bool().Draw(rt, "by_admin")
	if !h.do(rt, "issue a credit note", func(ctx context.Context, r app.Repositories) error {
		_, err := h.b.billing.IssueCreditNote(ctx, r, app.CreditNoteInput{PatientID: h.patient, InvoiceID: inv.ID(),
			Total: fen(rt, total), ReduceOwed: fen(rt, reduce), Refund: fen(rt, refund), ToAccountCredit: fen(rt, toCredit),
			Reason: reason, ByAdmin: admin})
		return err
	}) {
		return
	}
	require.Equal(rt, reduce+refund+toCredit, total, "a credit note whose parts do not add up")
	require.LessOrEqual(rt, reduce, due, "a credit note took off more than was owed")
	require.LessOrEqual(rt, refund+toCredit, held, "a credit note gave back more than was held")
	require.True(rt, admin || refund <= propApprovalAbove, "a large refund part without an admin")
	require.False(rt, settledFor(inv, reason), "a credit note for reason %q settled on the invoice before", reason)
}

// clinical runs one of the events scheduling and the lab publish. The
// history keeps them plausible: infusions and product failures come after
// a culture of the cycle started.
func (h *history) clinical(rt *rapid.T, cmd string) {
	c := h.aCourse(rt)
	cycle := rapid.IntRange(1, len(c.plan.phases)).Draw(rt, "cycle")
	if (cmd == "give an infusion" || cmd == "fail a product") && !c.cultured[cycle] {
		cmd = "start a culture"
	}
	switch cmd {
	case "start a culture":
		c.cultured[cycle] = true
		h.event(rt, cmd, func(ctx context.Context, r app.Repositories) error {
			return h.b.billing.CultureStarted(ctx, r, c.id, cycle)
		})
	case "give an infusion":
		h.event(rt, cmd, func(ctx context.Context, r app.Repositories) error {
			return h.b.billing.InfusionGiven(ctx, r, c.id, cycle)
		})
	case "fail a product":
		var product string
		if len(c.products) > 0 && rapid.Bool().Draw(rt, "redelivered") {
			product = rapid.SampledFrom(c.products).Draw(rt, "product")
		} else {
			product = fmt.Sprintf("W%s-%d", c.id.String()[:8], len(c.products)+1)
			c.products = append(c.products, product)
		}
		h.event(rt, cmd, func(ctx context.Context, r app.Repositories) error {
			return h.b.billing.ProductFailed(ctx, r, product, c.id, cycle)
		})
	case "cancel a course":
		c.version++
		h.event(rt, cmd, func(ctx context.Context, r app.Repositories) error {
			return h.b.billing.CourseCancelled(ctx, r, c.id, c.version, h.b.clock.Now())
		})
	}
}

// approve approves a refund waiting for it, now and then one already
// approved or none at all (refused).
func (h *history) approve(rt *rapid.T) {
	id := uuid.New()
	if len(h.refunds) > 0 && rapid.IntRange(0, 5).Draw(rt, "unknown_refund") > 0 {
		id = rapid.SampledFrom(h.refunds).Draw(rt, "refund")
	}
	var status string
	_ = h.b.db.Get(&status, `SELECT status FROM refunds WHERE id = $1`, id)
	var amount int64
	_ = h.b.db.Get(&amount, `SELECT amount FROM refunds WHERE id = $1`, id)
	before := h.snapshot(rt).Summary
	taken := h.do(rt, "approve a refund", func(ctx context.Context, r app.Repositories) error {
		_, err := h.b.billing.ApproveRefund(ctx, r, id, "admin")
		return err
	})
	if !taken {
		return
	}
	require.Equal(rt, app.RefundPending, status, "only a pending refund is approved")
	require.Equal(rt, before.Refunded.Amount()+amount, h.snapshot(rt).Summary.Refunded.Amount(), "an approved refund is paid out")
}

// void voids an invoice, most often one still owing and holding no paid
// money: taken, it is void, keeps its number and what it owed is off the
// account.
func (h *history) void(rt *rapid.T) {
	inv := h.anInvoice(rt, func(i *invoice.Invoice) bool { return owing(i) && !holding(i) })
	if inv == nil {
		return
	}
	before := h.snapshot(rt).Summary
	due := inv.AmountDue()
	taken := h.do(rt, "void an invoice", func(ctx context.Context, r app.Repositories) error {
		_, err := h.b.billing.VoidInvoice(ctx, r, inv.ID(), rapid.SampledFrom([]string{"planned twice", "entered in error"}).Draw(rt, "why"))
		return err
	})
	if !taken {
		voidable := !holding(inv) && slices.Contains([]invoice.Status{invoice.Issued, invoice.PartiallyPaid, invoice.Overdue}, inv.Status())
		require.False(rt, voidable, "an open invoice holding no paid money is voided")
		return
	}
	var status, number string
	require.NoError(rt, h.b.db.QueryRow(`SELECT status, number FROM invoices WHERE id = $1`, inv.ID()).Scan(&status, &number))
	require.Equal(rt, "void", status)
	require.Equal(rt, inv.Number(), number, "a voided invoice keeps its number")
	require.Equal(rt, before.Owed.Amount()-due.Amount(), h.snapshot(rt).Summary.Owed.Amount(), "what it owed is off the account")
}

// check holds the patient's account to the invariants.
func (h *history) check(rt *rapid.T) {
	ctx := context.Background()
	rep, err := h.q.LedgerCheckOf(ctx, h.patient)
	require.NoError(rt, err)
	require.Emptyf(rt, rep.Violations, "the ledger check, after %s", strings.Join(h.lastSteps, " → "))

	view, err := h.q.Summary(ctx, h.patient)
	require.NoError(rt, err)
	require.Equal(rt, postedBalances(rt, h), balancesOf(view), "the account's balances are the sums of its postings")

	var paid, refundsIssued, notesRefunded, toCredit, creditRefunded int64
	require.NoError(rt, h.b.db.QueryRowx(`SELECT
		(SELECT coalesce(sum(amount), 0) FROM payments WHERE patient_id = $1),
		(SELECT coalesce(sum(amount), 0) FROM refunds WHERE patient_id = $1 AND status = 'issued'),
		(SELECT coalesce(sum(refund), 0) FROM credit_notes WHERE patient_id = $1),
		(SELECT coalesce(sum(to_account_credit), 0) FROM payments WHERE patient_id = $1)
			+ (SELECT coalesce(sum(to_account_credit), 0) FROM credit_notes WHERE patient_id = $1),
		(SELECT coalesce(sum(amount), 0) FROM refunds WHERE patient_id = $1 AND status = 'issued' AND invoice_id IS NULL)`,
		h.patient).Scan(&paid, &refundsIssued, &notesRefunded, &toCredit, &creditRefunded))
	require.LessOrEqual(rt, refundsIssued+notesRefunded, paid, "refunds paid out above what was paid")
	require.LessOrEqual(rt, view.Refunded.Amount(), view.PaidIn.Amount())
	require.LessOrEqual(rt, view.RefundsGranted.Amount(), view.PaidIn.Amount())
	require.Equal(rt, paid, view.PaidIn.Amount(), "paid in is what the payments recorded")
	require.Equal(rt, refundsIssued+notesRefunded, view.Refunded.Amount(), "refunded is what refunds and credit notes paid out")
	require.Equal(rt, toCredit-creditRefunded, view.AccountCredit.Amount(),
		"the account credit is what payments and credit notes put there, less what was refunded of it")

	var owed int64
	for _, inv := range h.invoices(rt) {
		owed += inv.AmountDue().Amount()
		checkInvoice(rt, inv)
	}
	require.Equal(rt, owed, view.Owed.Amount(), "owed is what the invoices still owe")
}

// checkInvoice: the total is the sum of the lines (each its quantity
// times its unit price, plus its tax), and the invoice never gave back
// more than it was paid nor took more than its total.
func checkInvoice(rt *rapid.T, inv *invoice.Invoice) {
	var sum int64
	for _, l := range inv.Lines() {
		require.Equal(rt, l.Quantity*l.UnitPrice.Amount(), l.Amount.Amount(), "invoice %s line %s", inv.Number(), l.Code)
		want, err := invoice.Tax(l.Amount, l.TaxRate)
		require.NoError(rt, err)
		require.Equal(rt, want, l.Tax, "invoice %s line %s tax", inv.Number(), l.Code)
		sum += l.Amount.Amount() + l.Tax.Amount()
	}
	require.NotEmpty(rt, inv.Lines(), "invoice %s", inv.Number())
	require.Equal(rt, sum, inv.Total().Amount(), "invoice %s: the total is the sum of its lines", inv.Number())
	paid, back := inv.AmountPaid().Amount(), inv.AmountRefunded().Amount()+inv.MovedToAccountCredit().Amount()
	require.LessOrEqual(rt, back, paid, "invoice %s gave back more than it was paid", inv.Number())
	require.LessOrEqual(rt, paid+inv.AmountCredited().Amount(), inv.Total().Amount(), "invoice %s took more than its total", inv.Number())
}

// balances are an account's balances, in minor units.
type balances struct{ Owed, AccountCredit, Cash, PaidIn, RefundsGranted, Refunded, Revenue, Deferred int64 }

func balancesOf(s ledger.Summary) balances {
	return balances{Owed: s.Owed.Amount(), AccountCredit: s.AccountCredit.Amount(), Cash: s.Cash.Amount(), PaidIn: s.PaidIn.Amount(),
		RefundsGranted: s.RefundsGranted.Amount(), Refunded: s.Refunded.Amount(), Revenue: s.Revenue.Amount(), Deferred: s.Deferred.Amount()}
}

// postedBalances sums the lines of the patient's postings in SQL, apart
// from the Go code that derives the account view.
func postedBalances(rt *rapid.T, h *history) balances {
	var rows []struct {
		Account string `db:"account"`
		Debit   int64  `db:"debit"`
		Credit  int64  `db:"credit"`
	}
	require.NoError(rt, h.b.db.Select(&rows, `SELECT l->>'account' AS account,
		coalesce(sum((l->>'amount')::bigint) FILTER (WHERE l->>'side' = 'debit'), 0) AS debit,
		coalesce(sum((l->>'amount')::bigint) FILTER (WHERE l->>'side' = 'credit'), 0) AS credit
		FROM postings p, jsonb_array_elements(p.lines) l WHERE p.patient_id = $1 GROUP BY 1`, h.patient))
	dr, cr := map[string]int64{}, map[string]int64{}
	for _, r := range rows {
		dr[r.Account], cr[r.Account] = r.Debit, r.Credit
	}
	return balances{
		Owed: dr["receivable"] - cr["receivable"], AccountCredit: cr["account_credit"] - dr["account_credit"],
		Cash: dr["cash"] - cr["cash"], PaidIn: dr["cash"], RefundsGranted: cr["refunds"], Refunded: dr["refunds"],
		Revenue: cr["revenue"] - dr["revenue"], Deferred: cr["deferred_revenue"] - dr["deferred_revenue"],
	}
}
