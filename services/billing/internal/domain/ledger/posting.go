package ledger

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// Errors of NewPosting and the event constructors.
var (
	// ErrInvalidPosting: a posting without ids, sequence, time or a known
	// kind, with fewer than two lines, or with a line that is not a
	// positive amount on an account of the chart.
	ErrInvalidPosting = errors.New("invalid posting")
	// ErrUnbalanced: the debits do not equal the credits.
	ErrUnbalanced = errors.New("posting does not balance")
	// ErrMixedCurrency: lines in more than one currency.
	ErrMixedCurrency = errors.New("posting mixes currencies")
)

// Line is one debit or credit of a posting.
type Line struct {
	account Account
	side    Side
	amount  money.Money
}

// DebitLine is a debit of m to a.
func DebitLine(a Account, m money.Money) Line { return Line{account: a, side: Debit, amount: m} }

// CreditLine is a credit of m to a.
func CreditLine(a Account, m money.Money) Line { return Line{account: a, side: Credit, amount: m} }

// Account is the ledger account the line moves.
func (l Line) Account() Account { return l.account }

// Side is debit or credit.
func (l Line) Side() Side { return l.side }

// Amount is the line's amount, always positive.
func (l Line) Amount() money.Money { return l.amount }

// Refs are the business documents a posting records; the ones that apply
// are set, the others are uuid.Nil.
type Refs struct {
	InvoiceID    uuid.UUID
	PaymentID    uuid.UUID
	RefundID     uuid.UUID
	CreditNoteID uuid.UUID
}

// Header is what every posting has besides its lines.
type Header struct {
	ID uuid.UUID
	// PatientID is the patient account the posting belongs to.
	PatientID uuid.UUID
	// Seq is the posting's number in its patient account, from 1, growing
	// by one: the caller sets it (under the account's lock) and it is the
	// sequence finance systems use to detect a gap.
	Seq  int64
	Refs Refs
	At   time.Time
}

// WithRefs is h referencing refs.
func (h Header) WithRefs(refs Refs) Header {
	h.Refs = refs
	return h
}

// Posting is one balanced change of a patient account. Built only by
// NewPosting (or the event constructors), so it always balances; a stored
// one, rebuilt by FromState, is checked by Check.
type Posting struct {
	h     Header
	kind  Kind
	lines []Line
}

// NewPosting is a posting of kind k, refused unless it balances: at least
// two lines, each a positive amount (at most money.MaxAmount) on an account
// of the chart, all in one currency, the debits adding up to the credits.
func NewPosting(k Kind, h Header, lines ...Line) (Posting, error) {
	p := Posting{h: h, kind: k, lines: slices.Clone(lines)}
	if err := p.Validate(); err != nil {
		return Posting{}, err
	}
	return p, nil
}

// Validate reports what is wrong with p, if anything: the rules of
// NewPosting.
func (p Posting) Validate() error {
	if p.h.ID == uuid.Nil || p.h.PatientID == uuid.Nil {
		return fmt.Errorf("%w: posting and patient ids are required", ErrInvalidPosting)
	}
	if p.h.Seq < 1 {
		return fmt.Errorf("%w: sequence %d is not positive", ErrInvalidPosting, p.h.Seq)
	}
	if p.h.At.IsZero() {
		return fmt.Errorf("%w: no time", ErrInvalidPosting)
	}
	if !p.kind.Valid() {
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidPosting, p.kind)
	}
	if len(p.lines) < 2 {
		return fmt.Errorf("%w: %d lines, a posting needs at least two", ErrInvalidPosting, len(p.lines))
	}
	cur := p.lines[0].amount.Currency()
	debits, credits := money.Zero(cur), money.Zero(cur)
	for i, l := range p.lines {
		if !l.account.Valid() || (l.side != Debit && l.side != Credit) {
			return fmt.Errorf("%w: line %d: %q %q", ErrInvalidPosting, i, l.side, l.account)
		}
		if l.amount.Currency() != cur {
			return fmt.Errorf("%w: line %d in %s, line 0 in %s", ErrMixedCurrency, i, l.amount.Currency(), cur)
		}
		if err := money.CheckPayment(l.amount); err != nil {
			return fmt.Errorf("%w: line %d: %w", ErrInvalidPosting, i, err)
		}
		var err error
		if l.side == Debit {
			debits, err = debits.Add(l.amount)
		} else {
			credits, err = credits.Add(l.amount)
		}
		if err != nil {
			return fmt.Errorf("%w: line %d: %w", ErrInvalidPosting, i, err)
		}
	}
	if debits != credits {
		return fmt.Errorf("%w: debits %s, credits %s", ErrUnbalanced, debits, credits)
	}
	return nil
}

// ID is the posting's id.
func (p Posting) ID() uuid.UUID { return p.h.ID }

// PatientID is the patient account.
func (p Posting) PatientID() uuid.UUID { return p.h.PatientID }

// Seq is the posting's number in its patient account.
func (p Posting) Seq() int64 { return p.h.Seq }

// Kind is the business event.
func (p Posting) Kind() Kind { return p.kind }

// Refs are the documents the posting records.
func (p Posting) Refs() Refs { return p.h.Refs }

// At is when the event happened.
func (p Posting) At() time.Time { return p.h.At }

// Lines are the posting's lines (a copy).
func (p Posting) Lines() []Line { return slices.Clone(p.lines) }

// Currency is the currency of the posting's lines.
func (p Posting) Currency() money.Currency {
	if len(p.lines) == 0 {
		return money.Currency{}
	}
	return p.lines[0].amount.Currency()
}

// Total is the sum of the debits (equal to the credits): the amount the
// event moved.
func (p Posting) Total() money.Money {
	total := money.Zero(p.Currency())
	for _, l := range p.lines {
		if l.side == Debit {
			total, _ = total.Add(l.amount) // validated: lines are bounded
		}
	}
	return total
}

// LineState is a line as stored.
type LineState struct {
	Account Account
	Side    Side
	Amount  money.Money
}

// State is a posting as stored, for the repository.
type State struct {
	Header
	Kind  Kind
	Lines []LineState
}

// State is the posting as the repository stores it.
func (p Posting) State() State {
	s := State{Header: p.h, Kind: p.kind, Lines: make([]LineState, len(p.lines))}
	for i, l := range p.lines {
		s.Lines[i] = LineState{Account: l.account, Side: l.side, Amount: l.amount}
	}
	return s
}

// FromState rebuilds a stored posting without validating it, for the
// repository only: what is stored is what Check must be able to judge.
func FromState(s State) Posting {
	p := Posting{h: s.Header, kind: s.Kind, lines: make([]Line, len(s.Lines))}
	for i, l := range s.Lines {
		p.lines[i] = Line{account: l.Account, side: l.Side, amount: l.Amount}
	}
	return p
}
