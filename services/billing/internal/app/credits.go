package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

// CreditNotes stores credit notes.
type CreditNotes interface {
	// NextNumber takes the year's next credit note number (gapless, like
	// invoice numbers).
	NextNumber(ctx context.Context, year int) (string, error)
	// Add stores an issued credit note.
	Add(ctx context.Context, n CreditNote) error
}

// Settlements records the settlements billing makes under the policy.
type Settlements interface {
	// Take records a settlement under its key; false when the key was
	// taken before (the settlement was made: make nothing).
	Take(ctx context.Context, s SettlementRecord) (bool, error)
}

// SettlementRecord is a settlement made under the policy, for the record.
type SettlementRecord struct {
	// Key is "course_cancelled:<course>" or "product_failed:<product>".
	Key      string
	CourseID uuid.UUID
	// Kind is "course_cancelled" or "product_failed".
	Kind  string
	Cycle int
	// Detail is what the policy computed, as JSON.
	Detail json.RawMessage
	At     time.Time
}

// CreditNote is an issued credit note: it undoes part of an invoice, its
// total split exactly into what it takes off what is owed, what it refunds
// (paid out at once) and what it moves to the account credit.
type CreditNote struct {
	ID        uuid.UUID
	Number    string
	PatientID uuid.UUID
	InvoiceID uuid.UUID
	// InvoiceNumber is the credited invoice's.
	InvoiceNumber   string
	CourseID        uuid.UUID
	Total           money.Money
	ReduceOwed      money.Money
	Refund          money.Money
	ToAccountCredit money.Money
	// FromRevenue is the part of the total that had been earned and is
	// taken off revenue; the rest is taken off deferred revenue.
	FromRevenue money.Money
	Reason      string
	CreatedAt   time.Time
}

// CreditNoteInput is a credit note the billing desk issues. The parts may
// be zero (money.Zero of the currency) but must add up to Total exactly.
type CreditNoteInput struct {
	PatientID, InvoiceID uuid.UUID
	Total                money.Money
	ReduceOwed           money.Money
	Refund               money.Money
	ToAccountCredit      money.Money
	Reason               string
	// ByAdmin: the issuer may approve refunds. A note refunding more than
	// the approval limit is issued only by an admin, as a refund would be.
	ByAdmin bool
}

// Errors of credit notes.
var (
	ErrInvalidCreditNote = errors.New("invalid credit note")
	// ErrNeedsApproval: the note's refund is above the approval limit and
	// its issuer is not an admin.
	ErrNeedsApproval = errors.New("a refund above the approval limit needs an admin")
)

// Reasons of the settlements billing makes on its own.
const (
	ReasonCourseCancelled = "course_cancelled"
	reasonProductFailed   = "product_failed"
)

// settlementReason reports whether reason is one of the reasons billing's
// own settlements use ("course_cancelled", "product_failed:<product>"),
// compared as the invoice compares reasons. The desk may not use them: an
// invoice settles a reason once, so a desk refund or note under one would
// make the settlement of the course's cancellation or failed product fail
// on the invoice, and the event be retried for ever.
func settlementReason(reason string) bool {
	r := strings.Join(strings.Fields(strings.ToLower(reason)), " ")
	return r == ReasonCourseCancelled || strings.HasPrefix(r, reasonProductFailed+":")
}

// IssueCreditNote issues a credit note on an invoice, decided under the
// account's lock and then the invoice's (the order payments and refunds
// take): what it takes off is at most what is owed, what it gives back at
// most what was paid and not yet given back, once per reason. The refund
// part is paid out at once; above the approval limit only an admin may
// issue it.
func (b *Billing) IssueCreditNote(ctx context.Context, repos Repositories, in CreditNoteInput) (CreditNote, error) {
	now := b.now()
	in.Reason = strings.TrimSpace(in.Reason)
	if in.Reason == "" || len(in.Reason) > 200 {
		return CreditNote{}, fmt.Errorf("reason: 1 to 200 characters: %w", ErrInvalidCreditNote)
	}
	if settlementReason(in.Reason) {
		return CreditNote{}, fmt.Errorf("reason %q is billing's own: %w", in.Reason, ErrInvalidCreditNote)
	}
	if b.ApprovalAbove.IsPositive() && !in.ByAdmin && in.Refund.Currency() == b.ApprovalAbove.Currency() {
		if c, err := in.Refund.Cmp(b.ApprovalAbove); err == nil && c > 0 {
			return CreditNote{}, ErrNeedsApproval
		}
	}
	book, err := repos.Ledger().Book(ctx, in.PatientID)
	if err != nil {
		return CreditNote{}, err
	}
	inv, err := repos.Invoices().Get(ctx, in.InvoiceID)
	if err != nil {
		return CreditNote{}, err
	}
	if inv.PatientID() != in.PatientID {
		return CreditNote{}, fmt.Errorf("invoice %s is another patient's: %w", in.InvoiceID, ErrInvalidCreditNote)
	}
	course, err := b.courseInvoiceIDs(ctx, repos, inv)
	if err != nil {
		return CreditNote{}, err
	}
	return b.credit(ctx, repos, book, inv, course, invoice.CreditNote{Reason: in.Reason, Total: in.Total,
		ReduceOwed: in.ReduceOwed, Refund: in.Refund, ToAccountCredit: in.ToAccountCredit}, now)
}

// courseInvoiceIDs are the invoices whose postings make up the deferred
// revenue inv's money belongs to: its course's, or inv alone.
func (b *Billing) courseInvoiceIDs(ctx context.Context, repos Repositories, inv *invoice.Invoice) ([]uuid.UUID, error) {
	if inv.CourseID() == uuid.Nil {
		return []uuid.UUID{inv.ID()}, nil
	}
	invs, err := repos.Invoices().OfCourse(ctx, inv.CourseID())
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(invs))
	for i, x := range invs {
		ids[i] = x.ID()
	}
	return ids, nil
}

// earnedPart is the part of amount, taken back from a course (a credit
// note, a void), that comes off revenue: what the course's invoices no
// longer hold deferred, because it was earned. The rest comes off their
// deferred revenue.
func earnedPart(book *ledger.Book, course []uuid.UUID, amount money.Money) (money.Money, error) {
	deferred := deferredOf(book, course)
	if deferred.IsNegative() {
		deferred = money.Zero(amount.Currency())
	}
	fromDeferred, err := amount.Min(deferred)
	if err != nil {
		return money.Money{}, err
	}
	return amount.Sub(fromDeferred)
}

// deferredOf is the deferred revenue the book holds for those invoices.
func deferredOf(book *ledger.Book, invoiceIDs []uuid.UUID) money.Money {
	return book.BalanceWhere(ledger.DeferredRevenue, func(r ledger.Refs) bool { return slices.Contains(invoiceIDs, r.InvoiceID) })
}

// credit issues note on inv: numbered, applied to the invoice (which
// checks its caps and publishes CreditNoteIssued), stored, and posted to
// the ledger (taken off the deferred revenue of inv's course first, off
// revenue only for what was already earned beyond it) with the refund part
// paid out.
func (b *Billing) credit(ctx context.Context, repos Repositories, book *ledger.Book, inv *invoice.Invoice, course []uuid.UUID,
	note invoice.CreditNote, now time.Time) (CreditNote, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return CreditNote{}, err
	}
	note.Reference = id.String()
	if err := note.Validate(); err != nil {
		return CreditNote{}, err
	}
	if note.Number, err = repos.CreditNotes().NextNumber(ctx, now.In(b.Location).Year()); err != nil {
		return CreditNote{}, err
	}
	if err := inv.Credit(note, now); err != nil {
		return CreditNote{}, err
	}
	if err := repos.Invoices().Save(ctx, inv); err != nil {
		return CreditNote{}, err
	}
	fromRevenue, err := earnedPart(book, course, note.Total)
	if err != nil {
		return CreditNote{}, err
	}
	cn := CreditNote{ID: id, Number: note.Number, PatientID: inv.PatientID(), InvoiceID: inv.ID(), InvoiceNumber: inv.Number(),
		CourseID: inv.CourseID(), Total: note.Total, ReduceOwed: note.ReduceOwed, Refund: note.Refund,
		ToAccountCredit: note.ToAccountCredit, FromRevenue: fromRevenue, Reason: note.Reason, CreatedAt: now}
	// The credit note first: its postings' LedgerPosted name its number.
	if err := repos.CreditNotes().Add(ctx, cn); err != nil {
		return CreditNote{}, err
	}
	refs := ledger.Refs{InvoiceID: inv.ID(), CreditNoteID: id}
	if err := post(ctx, repos, book, func(h ledger.Header) (ledger.Posting, error) {
		return ledger.IssueCreditNote(h.WithRefs(refs), ledger.CreditNote{ReduceOwed: note.ReduceOwed, Refund: note.Refund,
			ToCredit: note.ToAccountCredit, FromRevenue: fromRevenue})
	}, now); err != nil {
		return CreditNote{}, err
	}
	if note.Refund.IsPositive() {
		if err := post(ctx, repos, book, func(h ledger.Header) (ledger.Posting, error) {
			return ledger.PayOutRefund(h.WithRefs(refs), note.Refund)
		}, now); err != nil {
			return CreditNote{}, err
		}
	}
	return cn, nil
}

// post builds a posting on the book's next header, posts it to the book
// and stores it.
func post(ctx context.Context, repos Repositories, book *ledger.Book, build func(ledger.Header) (ledger.Posting, error), now time.Time) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	p, err := build(book.Header(id, ledger.Refs{}, now))
	if err != nil {
		return err
	}
	if err := book.Post(p); err != nil {
		return err
	}
	return repos.Ledger().Append(ctx, p)
}

// share is what one invoice takes of a settlement.
type share struct {
	inv                       *invoice.Invoice
	reduce, refund, toAccount money.Money
}

// spread splits a settlement over invoices, in the order given: each takes
// what it can of reduce from what it still owes, then of refund and then
// of toAccount from what it holds paid. What no invoice can take is
// returned as left (reduce, refund, toAccount).
func spread(invs []*invoice.Invoice, reduce, refund, toAccount money.Money) ([]share, [3]money.Money, error) {
	var out []share
	for _, inv := range invs {
		s := share{inv: inv}
		var err error
		if s.reduce, err = reduce.Min(inv.AmountDue()); err != nil {
			return nil, [3]money.Money{}, err
		}
		held := inv.Refundable()
		if s.refund, err = refund.Min(held); err != nil {
			return nil, [3]money.Money{}, err
		}
		held = must(held.Sub(s.refund))
		if s.toAccount, err = toAccount.Min(held); err != nil {
			return nil, [3]money.Money{}, err
		}
		reduce, refund, toAccount = must(reduce.Sub(s.reduce)), must(refund.Sub(s.refund)), must(toAccount.Sub(s.toAccount))
		if s.reduce.IsPositive() || s.refund.IsPositive() || s.toAccount.IsPositive() {
			out = append(out, s)
		}
	}
	return out, [3]money.Money{reduce, refund, toAccount}, nil
}

// must unwraps arithmetic on amounts of one currency where the part is not
// above the whole: an error is a bug.
func must(m money.Money, err error) money.Money {
	if err != nil {
		panic(fmt.Sprintf("billing: %v", err))
	}
	return m
}

// issueShares issues one credit note per share, for reason.
func (b *Billing) issueShares(ctx context.Context, repos Repositories, book *ledger.Book, course []uuid.UUID, shares []share,
	reason string, now time.Time) ([]CreditNote, error) {
	var out []CreditNote
	for _, s := range shares {
		total, err := money.Sum(s.inv.Currency(), s.reduce, s.refund, s.toAccount)
		if err != nil {
			return nil, err
		}
		cn, err := b.credit(ctx, repos, book, s.inv, course, invoice.CreditNote{Reason: reason, Total: total,
			ReduceOwed: s.reduce, Refund: s.refund, ToAccountCredit: s.toAccount}, now)
		if err != nil {
			return nil, err
		}
		out = append(out, cn)
	}
	return out, nil
}

// latestDueFirst orders a course's invoices for a settlement: what is
// taken off or given back comes from the latest invoices first, so what
// stays owed is the oldest.
func latestDueFirst(invs []*invoice.Invoice) []*invoice.Invoice {
	out := slices.Clone(invs)
	slices.SortStableFunc(out, func(a, b *invoice.Invoice) int {
		if c := b.DueDate().Compare(a.DueDate()); c != 0 {
			return c
		}
		return strings.Compare(b.Number(), a.Number())
	})
	return out
}

func ids(invs []*invoice.Invoice) []uuid.UUID {
	out := make([]uuid.UUID, len(invs))
	for i, inv := range invs {
		out[i] = inv.ID()
	}
	return out
}

// CourseCancelled settles a cancelled course under its program's
// cancellation policy, once: from what happened (cultures started,
// infusions given) and the money (paid and still held, still owed), the
// policy says what is refunded, what becomes account credit, what is
// credited off what is owed and what the clinic keeps. Each invoice of
// the course gets at most one credit note for it (reason
// "course_cancelled"), refunds are paid out, and what the clinic keeps of
// the course's deferred revenue is recognised (kind "forfeit"). A course
// billing never invoiced has nothing to settle.
func (b *Billing) CourseCancelled(ctx context.Context, repos Repositories, courseID uuid.UUID, version int64, at time.Time) error {
	now := b.now()
	c, err := repos.Courses().Get(ctx, courseID)
	if errors.Is(err, ErrUnknownCourse) {
		return nil
	}
	if err != nil {
		return err
	}
	c.Status, c.Version, c.UpdatedAt = "cancelled", version, at
	if _, err := repos.Courses().Save(ctx, c); err != nil {
		return err
	}
	pl, err := repos.Courses().Prices(ctx, courseID)
	if errors.Is(err, ErrUnknownCourse) {
		return nil // planned but never invoiced (no price list): nothing to settle
	}
	if err != nil {
		return err
	}
	pol, err := repos.Reference().Policy(ctx, c.Program)
	if err != nil {
		return err
	}
	book, err := repos.Ledger().Book(ctx, c.PatientID)
	if err != nil {
		return err
	}
	invs, err := repos.Invoices().OfCourse(ctx, courseID)
	if err != nil {
		return err
	}
	facts := policy.Facts{CultureStarted: c.Cultures > 0, InfusionsGiven: c.InfusionsGiven, Paid: money.Zero(pl.Currency),
		Owed: money.Zero(pl.Currency), PerInfusion: pl.PerInfusion}
	// Every culture started consumed its lab fee.
	if facts.LabFee, err = pl.LabFee.MulRatio(int64(max(c.Cultures, 1)), 1); err != nil {
		return err
	}
	for _, inv := range invs {
		if facts.Paid, err = facts.Paid.Add(inv.Refundable()); err != nil {
			return err
		}
		if facts.Owed, err = facts.Owed.Add(inv.AmountDue()); err != nil {
			return err
		}
	}
	s, err := policy.Apply(pol, facts)
	if err != nil {
		return err
	}
	detail, err := json.Marshal(map[string]any{"stage": s.Stage, "kept": s.Kept.Amount(), "forfeit": s.Forfeit.Amount(),
		"refund": s.Refund.Amount(), "to_account_credit": s.ToAccountCredit.Amount(), "credit": s.Credit.Amount(),
		"still_owed": s.StillOwed.Amount(), "currency": pl.Currency.String()})
	if err != nil {
		return err
	}
	fresh, err := repos.Settlements().Take(ctx, SettlementRecord{Key: ReasonCourseCancelled + ":" + courseID.String(),
		CourseID: courseID, Kind: ReasonCourseCancelled, Detail: detail, At: now})
	if err != nil || !fresh {
		return err
	}
	shares, left, err := spread(latestDueFirst(invs), s.Credit, s.Refund, s.ToAccountCredit)
	if err != nil {
		return err
	}
	for _, l := range left {
		if !l.IsZero() {
			return fmt.Errorf("settlement of course %s does not fit its invoices (left %v): %w", courseID, left, policy.ErrInvalid)
		}
	}
	course := ids(invs)
	if _, err := b.issueShares(ctx, repos, book, course, shares, ReasonCourseCancelled, now); err != nil {
		return err
	}
	// What is left deferred is the clinic's: consumption, and the fee the
	// policy keeps.
	kept := deferredOf(book, course)
	return b.recogniseAmount(ctx, repos, book, c, 0, "forfeit", kept, now)
}

// ProductFailed credits the cycle whose product failed, once per product:
// the cycle's infusion charge, and its lab fee unless the culture had
// started and the policy keeps it then. The credit is taken off what the
// course still owes (the cycle's own invoice first, then the latest), and
// what is left of it moves paid money to the account credit; what the
// course holds neither owed nor paid cannot be credited and is recorded.
func (b *Billing) ProductFailed(ctx context.Context, repos Repositories, productID string, courseID uuid.UUID, cycle int) error {
	now := b.now()
	c, err := repos.Courses().Get(ctx, courseID)
	if errors.Is(err, ErrUnknownCourse) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.Status == "cancelled" {
		return nil // the cancellation settled the course
	}
	pl, err := repos.Courses().Prices(ctx, courseID)
	if errors.Is(err, ErrUnknownCourse) {
		return nil
	}
	if err != nil {
		return err
	}
	pol, err := repos.Reference().Policy(ctx, c.Program)
	if err != nil {
		return err
	}
	started, err := repos.Courses().Recognised(ctx, courseID, cycle, "lab_fee")
	if err != nil {
		return err
	}
	cc, err := policy.FailedCycleCredit(pl, policy.Cycle{Number: cycle}, started, pol)
	if err != nil {
		return err
	}
	book, err := repos.Ledger().Book(ctx, c.PatientID)
	if err != nil {
		return err
	}
	invs, err := repos.Invoices().OfCourse(ctx, courseID)
	if err != nil {
		return err
	}
	ordered := latestDueFirst(invs)
	slices.SortStableFunc(ordered, func(a, b *invoice.Invoice) int {
		return boolInt(b.Cycle() == cycle) - boolInt(a.Cycle() == cycle)
	})
	owed := money.Zero(pl.Currency)
	for _, inv := range invs {
		owed = must(owed.Add(inv.AmountDue()))
	}
	reduce := must(cc.Credit.Min(owed))
	shares, left, err := spread(ordered, reduce, money.Zero(pl.Currency), must(cc.Credit.Sub(reduce)))
	if err != nil {
		return err
	}
	detail, err := json.Marshal(map[string]any{"product_id": productID, "credit": cc.Credit.Amount(),
		"kept_lab_fee": cc.KeptLabFee.Amount(), "not_credited": left[2].Amount(), "currency": pl.Currency.String()})
	if err != nil {
		return err
	}
	fresh, err := repos.Settlements().Take(ctx, SettlementRecord{Key: reasonProductFailed + ":" + productID, CourseID: courseID,
		Kind: reasonProductFailed, Cycle: cycle, Detail: detail, At: now})
	if err != nil || !fresh {
		return err
	}
	_, err = b.issueShares(ctx, repos, book, ids(invs), shares, reasonProductFailed+":"+productID, now)
	return err
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}
