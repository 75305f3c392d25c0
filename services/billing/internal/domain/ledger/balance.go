package ledger

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// Errors of a Book.
var (
	// ErrNegativeBalance: after the posting an account would stand on its
	// wrong side (more paid than owed on receivable, more account credit
	// used than there is...). See BalanceError.
	ErrNegativeBalance = errors.New("balance would be negative")
	// ErrRefundAbovePaid: refunds granted would exceed what was paid in.
	ErrRefundAbovePaid = errors.New("refund above what was paid")
	// ErrSequence: the posting's sequence is not the account's next.
	ErrSequence = errors.New("posting out of sequence")
	// ErrWrongAccount: the posting belongs to another patient account, or
	// is in another currency.
	ErrWrongAccount = errors.New("posting of another account")
)

// BalanceError says which account a posting would take below zero.
type BalanceError struct {
	Account Account
	Balance money.Money
}

func (e *BalanceError) Error() string {
	return fmt.Sprintf("%s would be %s", e.Account, e.Balance)
}

// Unwrap makes errors.Is(err, ErrNegativeBalance) hold.
func (e *BalanceError) Unwrap() error { return ErrNegativeBalance }

// Summary is a patient account's position, derived from its postings:
// what the API shows and what the invariants are about.
type Summary struct {
	Currency money.Currency
	// Owed is the receivable balance: invoiced and not yet paid, credited
	// or settled from account credit.
	Owed money.Money
	// AccountCredit is the patient's money on account.
	AccountCredit money.Money
	// Cash is paid in less paid back.
	Cash money.Money
	// PaidIn is every payment received (cash debits).
	PaidIn money.Money
	// RefundsGranted is every refund decided (refunds credits).
	RefundsGranted money.Money
	// Refunded is every refund paid out (refunds debits).
	Refunded money.Money
	// RefundsPending is granted and not yet paid out (refunds balance).
	RefundsPending money.Money
	// Revenue is earned, net of credit notes.
	Revenue money.Money
	// Deferred is invoiced and not yet earned (nor credited away).
	Deferred money.Money
}

// tally is the debit and credit turnover of each account.
type tally struct {
	cur     money.Currency
	debits  map[Account]money.Money
	credits map[Account]money.Money
}

func newTally(c money.Currency) tally {
	t := tally{cur: c, debits: map[Account]money.Money{}, credits: map[Account]money.Money{}}
	for _, a := range Accounts() {
		t.debits[a], t.credits[a] = money.Zero(c), money.Zero(c)
	}
	return t
}

func (t tally) clone() tally {
	return tally{cur: t.cur, debits: maps.Clone(t.debits), credits: maps.Clone(t.credits)}
}

func (t tally) add(p Posting) error {
	for _, l := range p.lines {
		if !l.account.Valid() {
			return fmt.Errorf("%w: account %q", ErrInvalidPosting, l.account)
		}
		side := t.debits
		if l.side == Credit {
			side = t.credits
		}
		sum, err := side[l.account].Add(l.amount)
		if err != nil {
			return fmt.Errorf("posting %s: %w", p.h.ID, err)
		}
		side[l.account] = sum
	}
	return nil
}

// balance is a's balance on its normal side.
func (t tally) balance(a Account) money.Money {
	dr, cr := t.debits[a], t.credits[a]
	if !a.DebitNormal() {
		dr, cr = cr, dr
	}
	b, _ := dr.Sub(cr) // turnovers are non-negative sums: no overflow
	return b
}

func (t tally) summary() Summary {
	return Summary{
		Currency: t.cur, Owed: t.balance(Receivable), AccountCredit: t.balance(AccountCredit),
		Cash: t.balance(Cash), PaidIn: t.debits[Cash], RefundsGranted: t.credits[Refunds],
		Refunded: t.debits[Refunds], RefundsPending: t.balance(Refunds),
		Revenue: t.balance(Revenue), Deferred: t.balance(DeferredRevenue),
	}
}

// violations are the invariants of a sound account the tally breaks.
func (t tally) violations() []error {
	var out []error
	for _, a := range Accounts() {
		if b := t.balance(a); b.IsNegative() {
			out = append(out, &BalanceError{Account: a, Balance: b})
		}
	}
	if c, _ := t.credits[Refunds].Cmp(t.debits[Cash]); c > 0 {
		out = append(out, fmt.Errorf("%w: granted %s, paid in %s", ErrRefundAbovePaid, t.credits[Refunds], t.debits[Cash]))
	}
	return out
}

func tallyOf(c money.Currency, postings []Posting) (tally, error) {
	t := newTally(c)
	for _, p := range postings {
		if err := t.add(p); err != nil {
			return tally{}, err
		}
	}
	return t, nil
}

// Balance is account a's balance on its normal side over postings (all of
// one patient account, in currency c).
func Balance(c money.Currency, postings []Posting, a Account) (money.Money, error) {
	t, err := tallyOf(c, postings)
	if err != nil {
		return money.Money{}, err
	}
	return t.balance(a), nil
}

// Summarize is the position of a patient account from its postings (in
// currency c).
func Summarize(c money.Currency, postings []Posting) (Summary, error) {
	t, err := tallyOf(c, postings)
	if err != nil {
		return Summary{}, err
	}
	return t.summary(), nil
}

// Book is one patient account's postings as they are made: it takes a
// posting only if it is the account's next and leaves the account sound
// (no balance negative, refunds granted within what was paid in). The app
// loads it under the account's lock, posts, and stores the new postings.
type Book struct {
	patientID uuid.UUID
	cur       money.Currency
	postings  []Posting
	t         tally
}

// NewBook is the book of a patient account in currency c, holding the
// postings already made (in sequence order), which must be sound.
func NewBook(patientID uuid.UUID, c money.Currency, postings ...Posting) (*Book, error) {
	if patientID == uuid.Nil {
		return nil, errors.New("book needs a patient id")
	}
	if _, err := money.New(0, c); err != nil {
		return nil, fmt.Errorf("book: %w", err)
	}
	b := &Book{patientID: patientID, cur: c, t: newTally(c)}
	for _, p := range postings {
		if err := b.Post(p); err != nil {
			return nil, fmt.Errorf("book of %s: %w", patientID, err)
		}
	}
	return b, nil
}

// NextSeq is the sequence number the next posting must have.
func (b *Book) NextSeq() int64 { return int64(len(b.postings)) + 1 }

// Post adds p to the book, or refuses it and changes nothing.
func (b *Book) Post(p Posting) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.h.PatientID != b.patientID || p.Currency() != b.cur {
		return fmt.Errorf("%w: %s in %s, book of %s in %s", ErrWrongAccount, p.h.PatientID, p.Currency(), b.patientID, b.cur)
	}
	if p.h.Seq != b.NextSeq() {
		return fmt.Errorf("%w: %d, next is %d", ErrSequence, p.h.Seq, b.NextSeq())
	}
	t := b.t.clone()
	if err := t.add(p); err != nil {
		return err
	}
	if v := t.violations(); len(v) > 0 {
		return fmt.Errorf("%s %d: %w", p.kind, p.h.Seq, errors.Join(v...))
	}
	b.t = t
	b.postings = append(b.postings, p)
	return nil
}

// Postings are the book's postings in sequence order (a copy).
func (b *Book) Postings() []Posting { return slices.Clone(b.postings) }

// Summary is the account's position.
func (b *Book) Summary() Summary { return b.t.summary() }

// Balance is account a's balance on its normal side.
func (b *Book) Balance(a Account) money.Money { return b.t.balance(a) }

// BalanceWhere is a's balance on its normal side over the postings whose
// references keep accepts: the deferred revenue of one course is that of
// the postings of its invoices. A part of an account can be below zero
// even when the account is not; callers decide what that means.
func (b *Book) BalanceWhere(a Account, keep func(Refs) bool) money.Money {
	t := newTally(b.t.cur)
	for _, p := range b.postings {
		if keep(p.h.Refs) {
			_ = t.add(p) // every posting was added to b.t before: it adds
		}
	}
	return t.balance(a)
}

// Header is the header of the book's next posting.
func (b *Book) Header(id uuid.UUID, refs Refs, at time.Time) Header {
	return Header{ID: id, PatientID: b.patientID, Seq: b.NextSeq(), Refs: refs, At: at}
}

// PaymentParts splits a payment into what it pays of what the account owes
// and the overpayment, which becomes account credit.
func (b *Book) PaymentParts(amount money.Money) (applied, overpaid money.Money, err error) {
	if applied, err = amount.Min(b.t.balance(Receivable)); err != nil {
		return money.Money{}, money.Money{}, err
	}
	if applied.IsNegative() {
		applied = money.Zero(b.cur)
	}
	if overpaid, err = amount.Sub(applied); err != nil {
		return money.Money{}, money.Money{}, err
	}
	return applied, overpaid, nil
}
