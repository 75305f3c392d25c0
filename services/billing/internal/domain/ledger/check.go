package ledger

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// Rule names what a Violation breaks.
type Rule string

// The rules Check applies.
const (
	// RuleInvalid: the posting is not a valid posting (ids, kind, lines,
	// amounts), or does not balance, or mixes currencies (its Err says
	// which: ErrInvalidPosting, ErrUnbalanced, ErrMixedCurrency).
	RuleInvalid Rule = "invalid_posting"
	// RuleCurrency: the account's postings are not all in one currency.
	RuleCurrency Rule = "account_currency"
	// RuleSequenceGap: a sequence number is missing.
	RuleSequenceGap Rule = "sequence_gap"
	// RuleSequenceDuplicate: two postings share a sequence number.
	RuleSequenceDuplicate Rule = "sequence_duplicate"
	// RuleNegativeBalance: after the posting, an account stands on its
	// wrong side.
	RuleNegativeBalance Rule = "negative_balance"
	// RuleRefundAbovePaid: after the posting, refunds granted exceed what
	// was paid in.
	RuleRefundAbovePaid Rule = "refund_above_paid"
	// RuleTrialBalance: the account's debits do not equal its credits.
	RuleTrialBalance Rule = "trial_balance"
)

// Violation is one thing Check found wrong.
type Violation struct {
	Rule      Rule
	PatientID uuid.UUID
	// PostingID and Seq are the posting at fault; zero for a rule about
	// the whole account (a gap, the trial balance).
	PostingID uuid.UUID
	Seq       int64
	Err       error
}

func (v Violation) Error() string {
	return fmt.Sprintf("%s: patient account %s, posting %s (seq %d): %v", v.Rule, v.PatientID, v.PostingID, v.Seq, v.Err)
}

// Check judges stored postings of any number of patient accounts and
// returns every violation found, none when the ledger is sound: each
// posting valid and balanced; each account in one currency, its sequence
// 1..n without gap or duplicate, its debits equal to its credits, and, going
// through its postings in sequence order, no balance ever negative and
// refunds granted never above paid in.
func Check(postings []Posting) []Violation {
	byPatient := map[uuid.UUID][]Posting{}
	var patients []uuid.UUID
	for _, p := range postings {
		if _, ok := byPatient[p.h.PatientID]; !ok {
			patients = append(patients, p.h.PatientID)
		}
		byPatient[p.h.PatientID] = append(byPatient[p.h.PatientID], p)
	}
	slices.SortFunc(patients, func(a, b uuid.UUID) int { return cmp.Compare(a.String(), b.String()) })
	var out []Violation
	for _, patient := range patients {
		out = append(out, checkAccount(patient, byPatient[patient])...)
	}
	return out
}

func checkAccount(patient uuid.UUID, ps []Posting) []Violation {
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b Posting) int { return cmp.Compare(a.h.Seq, b.h.Seq) })
	var out []Violation
	at := func(r Rule, p Posting, err error) {
		out = append(out, Violation{Rule: r, PatientID: patient, PostingID: p.h.ID, Seq: p.h.Seq, Err: err})
	}
	var cur money.Currency
	for _, p := range ps {
		if c := p.Currency(); !c.IsZero() {
			cur = c
			break
		}
	}
	t := newTally(cur)
	want := int64(1)
	for i, p := range ps {
		switch {
		case i > 0 && p.h.Seq == ps[i-1].h.Seq:
			at(RuleSequenceDuplicate, p, fmt.Errorf("sequence %d again", p.h.Seq))
		case p.h.Seq != want:
			at(RuleSequenceGap, p, fmt.Errorf("sequence %d, expected %d", p.h.Seq, want))
		}
		want = p.h.Seq + 1
		if err := p.Validate(); err != nil {
			at(RuleInvalid, p, err)
		}
		if p.Currency() != cur {
			at(RuleCurrency, p, fmt.Errorf("%w: %s in an account in %s", ErrMixedCurrency, p.Currency(), cur))
			continue // its amounts cannot be added to the account's
		}
		if err := t.add(p); err != nil {
			at(RuleInvalid, p, err)
			continue
		}
		for _, err := range t.violations() {
			rule := RuleNegativeBalance
			if errors.Is(err, ErrRefundAbovePaid) {
				rule = RuleRefundAbovePaid
			}
			at(rule, p, err)
		}
	}
	debits, credits := money.Zero(cur), money.Zero(cur)
	for _, a := range Accounts() {
		debits, _ = debits.Add(t.debits[a])
		credits, _ = credits.Add(t.credits[a])
	}
	if debits != credits {
		out = append(out, Violation{Rule: RuleTrialBalance, PatientID: patient,
			Err: fmt.Errorf("%w: debits %s, credits %s", ErrUnbalanced, debits, credits)})
	}
	return out
}
