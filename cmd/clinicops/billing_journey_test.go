package main

// Issue 8's "Done when", across the four real services: one patient at a
// time walked through the public HTTP APIs by the journey driver (the one
// `clinicops demo` uses), on real Postgres and an in-process JetStream.
// Time: every service shares one dev clock (as under `clinicops dev`),
// which the driver moves forward to the draw, the end of the 14-day
// culture and the infusion. Every amount expected is read from billing's
// own price list and cancellation policy over the API.

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/cmd/clinicops/internal/journey"
	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/pkg/testharness"
)

const journeyProgram = "nk-autologous"

// startJourney runs the four services on one dev clock with their demo
// reference data (as `clinicops dev` seeds it) and returns a driver.
//
// With CLINICOPS_JOURNEY_DEV set to a running `make run`'s token file
// (.data/dev-tokens.env), the journeys walk that system instead, on its
// default ports and its /dev/clock; run them one at a time (-parallel 1),
// since they share its clock:
//
//	CLINICOPS_JOURNEY_DEV=$PWD/.data/dev-tokens.env go test -parallel 1 -run TestBillingJourney ./cmd/clinicops/
func startJourney(t *testing.T) *journey.Driver {
	t.Helper()
	d, _ := startMonitoredJourney(t)
	return d
}

// startMonitoredJourney is startJourney with the NATS monitoring endpoint
// the invariants read.
func startMonitoredJourney(t *testing.T) (*journey.Driver, string) {
	t.Helper()
	if tokens := os.Getenv("CLINICOPS_JOURNEY_DEV"); tokens != "" {
		return againstDev(t, tokens), "http://127.0.0.1:8222"
	}
	d, svcs := startJourneyStack(t)
	return d, svcs[0].NATS.MonitorURL()
}

// startJourneyStack runs the four services in-process on one dev clock,
// with opts applied to each, seeded, and returns a driver and the services
// (for tests that break them).
func startJourneyStack(t *testing.T, opts ...func(*platform.Options)) (*journey.Driver, []*testharness.Service) {
	t.Helper()
	dev := clock.NewDev()
	svcs := testharness.StartServices(t, services, func(o *platform.Options) {
		o.Clock = dev
		for _, opt := range opts {
			opt(o)
		}
	})
	urls := map[string]string{}
	for i, s := range svcs {
		require.NoError(t, services[i].Seed(context.Background(), s.Runtime))
		urls[services[i].Name] = "http://" + s.Runtime.Addr()
	}
	return &journey.Driver{HTTP: &http.Client{Timeout: 10 * time.Second},
		Intake: urls["intake"], Scheduling: urls["scheduling"], Billing: urls["billing"], Followup: urls["followup"],
		Tokens: svcs[0].Tokens, Clock: journey.InProcess{Dev: dev}, Timeout: 20 * time.Second,
		OnWait: func(w journey.Wait) { t.Logf("waited %s for: %s", w.Took.Round(time.Millisecond), w.What) }}, svcs
}

// againstDev drives the system `make run` runs, with its dev tokens.
func againstDev(t *testing.T, tokensFile string) *journey.Driver {
	t.Helper()
	tokens := readTokens(t, tokensFile)
	hc := &http.Client{Timeout: 10 * time.Second}
	return &journey.Driver{HTTP: hc, Intake: "http://127.0.0.1:8081", Scheduling: "http://127.0.0.1:8082", Billing: "http://127.0.0.1:8083",
		Followup: "http://127.0.0.1:8084",
		Tokens:   tokens, Clock: journey.DevEndpoint{URL: "http://127.0.0.1:8080/dev/clock", AdminToken: tokens[httpx.RoleAdmin], HTTP: hc},
		Timeout: 30 * time.Second,
		OnWait:  func(w journey.Wait) { t.Logf("waited %s for: %s", w.Took.Round(time.Millisecond), w.What) }}
}

// enrol registers a patient, requests a course of the program and waits
// until it is planned and invoiced; it returns the price list billing
// invoiced it with.
func enrol(t *testing.T, ctx context.Context, d *journey.Driver, given string) (journey.Patient, journey.Course, []journey.Invoice, journey.PriceList) {
	t.Helper()
	p, err := d.Register(ctx, journey.NewPatient{FamilyName: "测试", GivenName: given, BirthDate: "1971-04-02", Sex: "female"})
	require.NoError(t, err)
	require.NoError(t, d.RequestCourse(ctx, &p, journeyProgram))
	course, err := d.WaitPlanned(ctx, p.CourseID)
	require.NoError(t, err)
	invs, err := d.WaitInvoices(ctx, p.CourseID)
	require.NoError(t, err)
	today, err := d.Today(ctx)
	require.NoError(t, err)
	pl, err := d.PriceList(ctx, course.Program, course.ProtocolVersion, today)
	require.NoError(t, err)
	return p, course, invs, pl
}

// payDeposit pays the course's deposit at billing's desk and waits until
// scheduling has funded the course.
func payDeposit(t *testing.T, ctx context.Context, d *journey.Driver, p journey.Patient, invs []journey.Invoice) journey.Invoice {
	t.Helper()
	deposit, ok := journey.Deposit(invs)
	require.True(t, ok, "a deposit invoice: %+v", invs)
	pay, err := d.PayDeposit(ctx, p.ID, deposit)
	require.NoError(t, err)
	require.Len(t, pay.Allocations, 1)
	require.Equal(t, deposit.ID, pay.Allocations[0].InvoiceID)
	require.Equal(t, deposit.AmountDue, pay.Allocations[0].Amount)
	course, err := d.WaitFunded(ctx, p.CourseID)
	require.NoError(t, err)
	require.NotNil(t, course.FundedAt)
	return deposit
}

func requireLedgerClean(t *testing.T, ctx context.Context, d *journey.Driver) {
	t.Helper()
	check, err := d.LedgerCheck(ctx)
	require.NoError(t, err)
	require.True(t, check.OK, "ledger check: %+v", check.Violations)
	require.Empty(t, check.Violations)
	require.Positive(t, check.Postings)
}

func sum(t *testing.T, cur string, ms ...journey.Money) journey.Money {
	t.Helper()
	out := journey.Money{Currency: cur}
	for _, m := range ms {
		require.Equal(t, cur, m.Currency)
		out.Value += m.Value
	}
	return out
}

func money(v int64, cur string) journey.Money { return journey.Money{Value: v, Currency: cur} }

// applyBP is amount times bp/10000, rounded half to even (billing's
// ApplyRateBP), for non-negative amounts.
func applyBP(amount, bp int64) int64 {
	q, r := amount*bp/10000, amount*bp%10000
	if r > 5000 || (r == 5000 && q%2 == 1) {
		q++
	}
	return q
}

// TestBillingJourneyToTheFirstInfusion: a planned course is invoiced with
// its deposit due; the culture is refused until the deposit, paid at
// billing's desk, funds the course in scheduling; the culture earns the
// lab fee and the infusion its cycle's share; the ledger checks clean.
func TestBillingJourneyToTheFirstInfusion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := startJourney(t)
	p, course, invs, pl := enrol(t, ctx, d, "一")
	cur := pl.Currency

	// Invoiced: the deposit first and due, the whole course price in all.
	deposit, ok := journey.Deposit(invs)
	require.True(t, ok)
	require.Equal(t, pl.Deposit, deposit.Total)
	require.Equal(t, pl.Deposit, deposit.AmountDue)
	require.Equal(t, "issued", deposit.Status)
	require.NotNil(t, deposit.DueDate)
	var totals []journey.Money
	for _, inv := range invs {
		totals = append(totals, inv.Total)
	}
	require.Equal(t, pl.CoursePrice, sum(t, cur, totals...))
	acct, err := d.WaitAccount(ctx, "billing's account shows the course invoiced", p.ID,
		func(a journey.Account) bool { return a.Balance.Owed == pl.CoursePrice })
	require.NoError(t, err)
	require.Equal(t, pl.CoursePrice, acct.Balance.Deferred)
	require.Equal(t, money(0, cur), acct.Balance.Revenue)
	require.Nil(t, course.FundedAt)

	// The draw; the culture is refused before the deposit.
	din, err := d.Draw(ctx, p.CourseID, 1)
	require.NoError(t, err)
	_, err = d.StartCulture(ctx, din)
	require.Equal(t, http.StatusConflict, journey.StatusOf(err), "%v", err)
	var apiErr *journey.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Contains(t, apiErr.Detail, "not funded")

	// The cashier takes the deposit; scheduling funds the course.
	payDeposit(t, ctx, d, p, invs)
	invs, err = d.Invoices(ctx, p.CourseID)
	require.NoError(t, err)
	deposit, _ = journey.Deposit(invs)
	require.Equal(t, "paid", deposit.Status)
	require.Equal(t, money(0, cur), deposit.AmountDue)

	// The culture starts now, and earns the lab fee.
	prod, err := d.StartCulture(ctx, din)
	require.NoError(t, err)
	require.Equal(t, "culturing", prod.Status)
	_, err = d.WaitAccount(ctx, "billing recognises the lab fee", p.ID,
		func(a journey.Account) bool { return a.Balance.Revenue == pl.LabFee })
	require.NoError(t, err)

	// Fourteen days on, QC releases the product; the infusion is given.
	prod, err = d.Release(ctx, p.CourseID, 1, din, journey.GoodQC)
	require.NoError(t, err)
	require.Equal(t, "released", prod.Status)
	infusion, err := d.Infuse(ctx, p, 1, din)
	require.NoError(t, err)
	require.Equal(t, "completed", infusion.Status)
	earned := sum(t, cur, pl.LabFee, journey.CycleShare(pl, len(course.Cycles), 1))
	acct, err = d.WaitAccount(ctx, "billing recognises the infusion", p.ID,
		func(a journey.Account) bool { return a.Balance.Revenue == earned })
	require.NoError(t, err)
	require.Equal(t, pl.CoursePrice.Value-earned.Value, acct.Balance.Deferred.Value)
	require.Equal(t, pl.Deposit, acct.Balance.PaidIn)
	require.Equal(t, pl.CoursePrice.Value-pl.Deposit.Value, acct.Balance.Owed.Value)
	requireLedgerClean(t, ctx, d)
}

// TestBillingJourneyCancelledAfterTheDeposit: a funded course cancelled at
// the front desk before its culture is settled under the program's
// policy (refund, account credit, the rest of what is owed credited) and
// its appointments are cancelled in scheduling.
func TestBillingJourneyCancelledAfterTheDeposit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := startJourney(t)
	p, _, invs, pl := enrol(t, ctx, d, "二")
	cur := pl.Currency
	payDeposit(t, ctx, d, p, invs)
	pol, err := d.Policy(ctx, p.Program)
	require.NoError(t, err)

	// What the course holds when it is cancelled.
	invs, err = d.Invoices(ctx, p.CourseID)
	require.NoError(t, err)
	var paid, owed journey.Money
	paid.Currency, owed.Currency = cur, cur
	for _, inv := range invs {
		paid.Value += inv.Paid.Value - inv.Refunded.Value - inv.MovedToAccountCredit.Value
		owed.Value += inv.AmountDue.Value
	}
	require.Equal(t, pl.Deposit, paid)
	rule := pol.BeforeCulture
	refund := money(applyBP(paid.Value, rule.RefundShareBP), cur)
	toCredit, forfeit := money(0, cur), money(0, cur)
	if rest := paid.Value - refund.Value; rule.RestTo != nil && *rule.RestTo == "forfeit" {
		forfeit.Value = rest
	} else {
		toCredit.Value = rest
	}

	require.NoError(t, d.CancelCourse(ctx, p.CourseID, "patient_request"))
	_, err = d.WaitCourse(ctx, "scheduling cancels the course", p.CourseID,
		func(c journey.Course) bool { return c.Status == "cancelled" })
	require.NoError(t, err)
	appts, err := d.Appointments(ctx, p.CourseID)
	require.NoError(t, err)
	require.NotEmpty(t, appts)
	for _, a := range appts {
		require.Equal(t, "cancelled", a.Status, "%s %s", a.Kind, a.ID)
	}

	notes, err := d.WaitCreditNotes(ctx, "billing settles the cancellation", p.CourseID, "course_cancelled")
	require.NoError(t, err)
	var reduced, refunded, credited []journey.Money
	for _, n := range notes {
		require.Equal(t, "course_cancelled", n.Reason)
		require.Equal(t, sum(t, cur, n.ReduceOwed, n.Refund, n.ToAccountCredit), n.Total, n.Number)
		reduced, refunded, credited = append(reduced, n.ReduceOwed), append(refunded, n.Refund), append(credited, n.ToAccountCredit)
	}
	require.Equal(t, owed, sum(t, cur, reduced...), "what was owed is credited")
	require.Equal(t, refund, sum(t, cur, refunded...), "the policy's refund")
	require.Equal(t, toCredit, sum(t, cur, credited...), "the policy's account credit")

	acct, err := d.Account(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, money(0, cur), acct.Balance.Owed)
	require.Equal(t, refund, acct.Balance.Refunded)
	require.Equal(t, toCredit, acct.Balance.AccountCredit)
	require.Equal(t, forfeit, acct.Balance.Revenue, "before culture the clinic keeps only a forfeit")
	require.Equal(t, money(0, cur), acct.Balance.Deferred)
	requireLedgerClean(t, ctx, d)
}

// TestBillingJourneyFailedProduct: a product that fails QC after its
// culture started credits its cycle (the infusion charge and the lab fee,
// unless the policy keeps the fee) off what the course still owes, and
// scheduling books the cycle again.
func TestBillingJourneyFailedProduct(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := startJourney(t)
	p, _, invs, pl := enrol(t, ctx, d, "三")
	cur := pl.Currency
	payDeposit(t, ctx, d, p, invs)
	pol, err := d.Policy(ctx, p.Program)
	require.NoError(t, err)
	din, err := d.Draw(ctx, p.CourseID, 1)
	require.NoError(t, err)
	_, err = d.StartCulture(ctx, din)
	require.NoError(t, err)
	before, err := d.WaitAccount(ctx, "billing recognises the lab fee", p.ID,
		func(a journey.Account) bool { return a.Balance.Revenue == pl.LabFee })
	require.NoError(t, err)

	credit := pl.PerInfusion
	if !pol.KeepLabFeeOnProductFailure {
		credit = sum(t, cur, pl.PerInfusion, pl.LabFee)
	}
	require.GreaterOrEqual(t, before.Balance.Owed.Value, credit.Value, "the credit fits in what is owed")

	failed, err := d.FailProduct(ctx, din, "no_growth")
	require.NoError(t, err)
	require.Equal(t, "failed", failed.Status)
	notes, err := d.WaitCreditNotes(ctx, "billing credits the failed cycle", p.CourseID, "product_failed:")
	require.NoError(t, err)
	var totals, reduced []journey.Money
	cycleOf := map[string]int{}
	for _, inv := range invs {
		cycleOf[inv.ID] = inv.Cycle
	}
	for _, n := range notes {
		require.Equal(t, "product_failed:"+din, n.Reason)
		require.Equal(t, money(0, cur), n.Refund)
		totals, reduced = append(totals, n.Total), append(reduced, n.ReduceOwed)
	}
	require.Equal(t, credit, sum(t, cur, totals...))
	require.Equal(t, credit, sum(t, cur, reduced...), "taken off what the course owes")
	require.Equal(t, 1, cycleOf[notes[0].InvoiceID], "the failed cycle's own invoice first")

	acct, err := d.Account(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, before.Balance.Owed.Value-credit.Value, acct.Balance.Owed.Value)
	require.Equal(t, before.Balance.Refunded, acct.Balance.Refunded)
	// Scheduling books the cycle again: a new draw, a chain on a new product.
	c, err := d.WaitCourse(ctx, "scheduling books the cycle again", p.CourseID, func(c journey.Course) bool {
		a, ok := c.Appointment(1, "draw")
		return ok && a.Status == "booked"
	})
	require.NoError(t, err)
	require.NotEqual(t, "cancelled", c.Status)
	requireLedgerClean(t, ctx, d)
}
