package policy

import (
	"fmt"
	"strings"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// Stage is how far a course got before it was cancelled.
type Stage string

// The stages, each later one including the earlier.
const (
	BeforeCulture  Stage = "before_culture"
	CultureStarted Stage = "culture_started"
	InfusionsGiven Stage = "infusions_given"
)

// Destination is where the part of the paid money that is not refunded
// goes.
type Destination string

// The destinations.
const (
	// ToAccountCredit: the patient keeps it as credit on the account.
	ToAccountCredit Destination = "account_credit"
	// ToForfeit: the clinic keeps it (a cancellation fee).
	ToForfeit Destination = "forfeit"
)

// StageRule is what a cancellation at one stage does with the money paid.
// What the course consumed is kept first (the lab fee once culture
// started, if ForfeitLabFee; the per-infusion charge of every infusion
// given, if KeepInfusions); of the rest, RefundShare is refunded and the
// remainder goes to RestTo.
type StageRule struct {
	ForfeitLabFee bool
	KeepInfusions bool
	// RefundShare of the rest, in basis points (10000 = all of it).
	RefundShare BasisPoints
	// RestTo is where the rest beyond RefundShare goes; irrelevant (and
	// may be empty) when RefundShare is 10000.
	RestTo Destination
}

// CancellationPolicy is a program's cancellation terms, as data.
type CancellationPolicy struct {
	Program        string
	BeforeCulture  StageRule
	CultureStarted StageRule
	InfusionsGiven StageRule
	// KeepLabFeeOnProductFailure: a cycle whose product failed QC after
	// its culture started still costs its lab fee.
	KeepLabFeeOnProductFailure bool
}

// Validate checks every stage's shares and destinations.
func (p CancellationPolicy) Validate() error {
	if strings.TrimSpace(p.Program) == "" {
		return fmt.Errorf("cancellation policy without a program: %w", ErrInvalid)
	}
	for stage, r := range map[Stage]StageRule{BeforeCulture: p.BeforeCulture, CultureStarted: p.CultureStarted, InfusionsGiven: p.InfusionsGiven} {
		if r.RefundShare < 0 || r.RefundShare > whole {
			return fmt.Errorf("%s: refund share %d bp not within 0-10000: %w", stage, r.RefundShare, ErrInvalid)
		}
		if r.RefundShare < whole && r.RestTo != ToAccountCredit && r.RestTo != ToForfeit {
			return fmt.Errorf("%s: the rest goes to %q, want account_credit or forfeit: %w", stage, r.RestTo, ErrInvalid)
		}
	}
	return nil
}

// Facts are what happened to a course and its money when it is
// cancelled, summed over its invoices by the caller. The four amounts are
// in the course's one currency, Paid's (a zero amount too: money.Zero of
// it).
type Facts struct {
	CultureStarted bool
	InfusionsGiven int
	// Paid is money paid and still held: paid, less what was already
	// refunded or moved to account credit.
	Paid money.Money
	// Owed is what the course's issued invoices still ask for.
	Owed money.Money
	// LabFee and PerInfusion are the prices the course was invoiced with.
	LabFee      money.Money
	PerInfusion money.Money
}

// Stage is the stage the facts put a course in.
func (f Facts) Stage() Stage {
	switch {
	case f.InfusionsGiven > 0:
		return InfusionsGiven
	case f.CultureStarted:
		return CultureStarted
	default:
		return BeforeCulture
	}
}

// Settlement is what a cancellation does with the money, every part in
// the facts' currency (money.Zero of it when nothing). Its parts add up
// exactly:
//
//	Refund + ToAccountCredit + Forfeit = Facts.Paid
//	Credit + StillOwed                 = Facts.Owed
type Settlement struct {
	Stage Stage
	// Kept is what the course consumed under the policy: the clinic's.
	Kept money.Money
	// Forfeit is paid money the clinic keeps: consumption first, then a
	// cancellation fee when the rule sends the rest there.
	Forfeit money.Money
	Refund  money.Money
	// ToAccountCredit is paid money that becomes account credit.
	ToAccountCredit money.Money
	// Credit is taken off what is owed (credit notes' ReduceOwed).
	Credit money.Money
	// StillOwed is consumption the payments did not cover: it stays owed.
	StillOwed money.Money
}

// Apply settles a cancelled course under the policy. What the course
// consumed (Kept) is taken from the money paid first; what the payments
// don't cover stays owed (out of what is owed; the rest of what is owed is
// credited). The paid money beyond consumption is split by the stage's
// refund share, rounded half to even on the refund (money's ApplyRateBP),
// the remainder going to account credit or forfeited.
//
// With a course of 30,000.00 CNY, a lab fee of 3,000.00, 2,000.00 an
// infusion, and a policy keeping the lab fee once culture started and the
// infusions given, refunding 100 % before infusions and 50 % after (the
// rest to account credit):
//
//   - before culture, 10,000.00 paid, 5,000.00 owed: refund 10,000.00,
//     credit 5,000.00;
//   - culture started, the same money: forfeit 3,000.00, refund 7,000.00,
//     credit 5,000.00;
//   - two infusions given, 20,000.00 paid, 5,000.00 owed: kept 7,000.00,
//     refund 6,500.00, account credit 6,500.00, credit 5,000.00;
//   - two infusions given, 5,000.00 paid, 10,000.00 owed: forfeit
//     5,000.00, still owed 2,000.00, credit 8,000.00.
func Apply(p CancellationPolicy, f Facts) (Settlement, error) {
	if err := p.Validate(); err != nil {
		return Settlement{}, err
	}
	cur := f.Paid.Currency()
	if _, err := money.New(0, cur); err != nil {
		return Settlement{}, fmt.Errorf("facts: paid: %w: %w", ErrInvalid, err)
	}
	for _, m := range []money.Money{f.Owed, f.LabFee, f.PerInfusion} {
		if err := money.CheckCurrency(m, cur); err != nil {
			return Settlement{}, fmt.Errorf("facts in more than one currency (paid %s, owed %s, lab fee %s, per infusion %s): %w: %w",
				f.Paid, f.Owed, f.LabFee, f.PerInfusion, ErrInvalid, err)
		}
	}
	if f.Paid.IsNegative() || f.Owed.IsNegative() || f.LabFee.IsNegative() || f.PerInfusion.IsNegative() || f.InfusionsGiven < 0 {
		return Settlement{}, fmt.Errorf("negative facts %+v: %w", f, ErrInvalid)
	}
	stage := f.Stage()
	rule := map[Stage]StageRule{BeforeCulture: p.BeforeCulture, CultureStarted: p.CultureStarted, InfusionsGiven: p.InfusionsGiven}[stage]

	kept := money.Zero(cur)
	if rule.ForfeitLabFee && f.CultureStarted {
		kept = f.LabFee
	}
	if rule.KeepInfusions {
		infusions, err := f.PerInfusion.MulRatio(int64(f.InfusionsGiven), 1)
		if err == nil {
			kept, err = kept.Add(infusions)
		}
		if err != nil {
			return Settlement{}, fmt.Errorf("infusions kept: %w", err)
		}
	}
	// From here every amount is in cur and non-negative, and each
	// difference is of a part not above the whole: nothing can fail.
	s := Settlement{Stage: stage, Kept: kept, ToAccountCredit: money.Zero(cur)}
	s.Forfeit = must(kept.Min(f.Paid))
	s.StillOwed = must(must(kept.Sub(s.Forfeit)).Min(f.Owed))
	s.Credit = must(f.Owed.Sub(s.StillOwed))

	rest := must(f.Paid.Sub(s.Forfeit))
	s.Refund = must(rest.ApplyRateBP(rule.RefundShare)) // 0 <= share <= 100 %: not above rest
	remainder := must(rest.Sub(s.Refund))
	if rule.RestTo == ToForfeit {
		s.Forfeit = must(s.Forfeit.Add(remainder))
	} else {
		s.ToAccountCredit = remainder
	}
	return s, nil
}

// CycleCredit is what a cycle whose product failed gives back.
type CycleCredit struct {
	Cycle int
	// Credit is the cycle's charges less what the policy keeps.
	Credit money.Money
	// KeptLabFee is the lab fee the policy keeps (zero, in the list's
	// currency, when credited too).
	KeptLabFee money.Money
}

// FailedCycleCredit is the credit for a cycle whose product failed
// (ProductFailed): its infusion charge, and its lab fee unless its culture
// had started and the policy keeps the lab fee then. The caller turns it
// into credit notes on the cycle's invoices (reducing what is owed first,
// then to account credit). The price list's amounts are those the course
// was invoiced with.
func FailedCycleCredit(pl PriceList, cycle Cycle, cultureStarted bool, p CancellationPolicy) (CycleCredit, error) {
	if err := pl.Validate(); err != nil {
		return CycleCredit{}, err
	}
	if err := p.Validate(); err != nil {
		return CycleCredit{}, err
	}
	if p.Program != pl.Program {
		return CycleCredit{}, fmt.Errorf("policy of %s for a price list of %s: %w", p.Program, pl.Program, ErrInvalid)
	}
	if cycle.Number < 1 {
		return CycleCredit{}, fmt.Errorf("cycle %d: %w", cycle.Number, ErrInvalid)
	}
	c := CycleCredit{Cycle: cycle.Number, Credit: pl.PerInfusion, KeptLabFee: money.Zero(pl.Currency)}
	if cultureStarted && p.KeepLabFeeOnProductFailure {
		c.KeptLabFee = pl.LabFee
	} else {
		c.Credit = must(c.Credit.Add(pl.LabFee)) // Validate keeps LabFee + PerInfusion in range
	}
	return c, nil
}
