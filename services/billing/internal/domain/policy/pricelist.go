// Package policy is billing's rules as data: the price list of a program
// and protocol version, the schedule of invoices a planned course gets
// from it, and what a cancellation or a failed product does to the money.
// Pure Go and deterministic: the same inputs give the same outputs, so the
// app layer can recompute them on a retried event. Amounts are money.Money
// and their arithmetic is money's.
package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// BasisPoints is a rate or share in hundredths of a percent: 5000 is 50 %.
type BasisPoints = int64

// whole is 100 % in basis points.
const whole BasisPoints = 10000

// Errors. Typed errors and wrapped messages unwrap to these.
var (
	// ErrInvalid: a price list, policy or plan that breaks its rules.
	ErrInvalid = errors.New("invalid billing policy data")
	// ErrPlanMismatch: the planned cycles do not carry the price list's
	// instalments (a phase with fewer cycles than instalments).
	ErrPlanMismatch = errors.New("the plan does not fit the price list")
	// ErrOverflow: an amount too large to be a real price. It is money's
	// sentinel, named here so callers need not import money to tell it
	// apart.
	ErrOverflow = money.ErrOverflow
)

// must unwraps money arithmetic whose inputs were checked: amounts of one
// currency, non-negative parts of a sum that did not overflow. An error
// here is a bug, not bad input.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("policy: %v", err))
	}
	return v
}

// Instalment is what each instalment of a phase costs and how many the
// phase has (one per cycle of the phase, in cycle order).
type Instalment struct {
	// Amount is in the price list's currency.
	Amount money.Money
	Count  int
}

// PriceList is what a program costs under one protocol version, for a
// period. Amounts are net of tax, all in Currency (a zero amount too:
// money.Zero of it).
//
// The course price is what the patient pays for the whole course, billed
// as the deposit plus the instalments (exactly: Validate checks it), or,
// with no instalments, the deposit plus one course invoice for the rest.
// The lab fee and the per-infusion charge are what one cycle consumes, out
// of that price: they decide what a cancellation keeps and what a failed
// product credits, and they are billed as their own invoices only by the
// programs that bill per milestone.
type PriceList struct {
	Program         string
	ProtocolVersion string
	// ValidFrom and ValidTo are dates (midnight UTC of the clinic's date),
	// both included; a zero ValidTo is open-ended.
	ValidFrom, ValidTo time.Time
	// Currency is the list's one currency; every amount is in it.
	Currency    money.Currency
	CoursePrice money.Money
	Deposit     money.Money
	// Instalments by phase name (as the protocol names its phases).
	Instalments map[string]Instalment
	LabFee      money.Money
	PerInfusion money.Money
	// TaxRate in basis points, applied per invoice line, rounded half to
	// even (see invoice.Tax).
	TaxRate BasisPoints
}

// Validate checks the list on its own: names and currency, every amount
// in the list's currency, no negative amount, the deposit not above the course price, the deposit and the
// instalments adding up to the course price exactly when there are
// instalments (so what is invoiced is what the course costs), and one
// cycle's lab fee and infusion not above the course price.
func (pl PriceList) Validate() error {
	var problems []string
	if strings.TrimSpace(pl.Program) == "" || strings.TrimSpace(pl.ProtocolVersion) == "" {
		problems = append(problems, "program and protocol version are required")
	}
	if pl.ValidFrom.IsZero() || (!pl.ValidTo.IsZero() && pl.ValidTo.Before(pl.ValidFrom)) {
		problems = append(problems, "valid from a date, to a later date or open-ended")
	}
	if pl.TaxRate < 0 || pl.TaxRate > whole {
		problems = append(problems, fmt.Sprintf("tax rate %d bp is not within 0-10000", pl.TaxRate))
	}
	if p := pl.currencyProblems(); len(p) > 0 {
		// Amounts of other currencies cannot be compared: the rest waits.
		problems = append(problems, p...)
	} else {
		problems = append(problems, pl.amountProblems()...)
	}
	if len(problems) > 0 {
		return fmt.Errorf("price list %s/%s: %s: %w", pl.Program, pl.ProtocolVersion, strings.Join(problems, "; "), ErrInvalid)
	}
	return nil
}

// currencyProblems: a list of no currency, or an amount in another
// currency than the list's (the zero Money of none included).
func (pl PriceList) currencyProblems() []string {
	if _, err := money.New(0, pl.Currency); err != nil {
		return []string{fmt.Sprintf("currency: %v", err)}
	}
	amounts := map[string]money.Money{"course price": pl.CoursePrice, "deposit": pl.Deposit,
		"lab fee": pl.LabFee, "per-infusion charge": pl.PerInfusion}
	for phase, in := range pl.Instalments {
		amounts[fmt.Sprintf("phase %q instalment", phase)] = in.Amount
	}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(amounts)) {
		if err := money.CheckCurrency(amounts[name], pl.Currency); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
	return problems
}

// amountProblems checks the amounts, all in the list's currency.
func (pl PriceList) amountProblems() []string {
	var problems []string
	if !pl.CoursePrice.IsPositive() || pl.Deposit.IsNegative() || pl.LabFee.IsNegative() || pl.PerInfusion.IsNegative() {
		problems = append(problems, "the course price is positive, the deposit, lab fee and per-infusion charge not negative")
	}
	if must(pl.Deposit.Cmp(pl.CoursePrice)) > 0 {
		problems = append(problems, "the deposit is above the course price")
	}
	if cycle, err := pl.LabFee.Add(pl.PerInfusion); err != nil || must(cycle.Cmp(pl.CoursePrice)) > 0 {
		problems = append(problems, "one cycle's lab fee and infusion are above the course price")
	}
	if len(pl.Instalments) > 0 {
		total := pl.Deposit
		for _, phase := range slices.Sorted(maps.Keys(pl.Instalments)) {
			in := pl.Instalments[phase]
			if strings.TrimSpace(phase) == "" || !in.Amount.IsPositive() || in.Count < 1 {
				problems = append(problems, fmt.Sprintf("phase %q: an instalment is a positive amount, at least once", phase))
				continue
			}
			t, err := in.Amount.MulRatio(int64(in.Count), 1)
			if err == nil {
				total, err = total.Add(t)
			}
			if err != nil {
				problems = append(problems, fmt.Sprintf("phase %q: %v", phase, err))
			}
		}
		if total != pl.CoursePrice {
			problems = append(problems, fmt.Sprintf("deposit and instalments add up to %s, not the course price %s", total, pl.CoursePrice))
		}
	}
	return problems
}

// ValidOn reports whether the list applies on date (a date, as ValidFrom):
// from ValidFrom through ValidTo, both included.
func (pl PriceList) ValidOn(date time.Time) bool {
	if date.Before(pl.ValidFrom) {
		return false
	}
	return pl.ValidTo.IsZero() || !date.After(pl.ValidTo)
}

// Cycle is one planned cycle, as scheduling plans it.
type Cycle struct {
	Number int
	Phase  string
	// TargetDate is the planned date of its infusion (midnight UTC of
	// the clinic's date).
	TargetDate time.Time
}

// ScheduleOptions are the clinic's terms.
type ScheduleOptions struct {
	// DepositDueDays: the deposit is due this many days after planning.
	DepositDueDays int
	// InstalmentLeadDays: a cycle's instalment is due this many days
	// before the cycle's target date.
	InstalmentLeadDays int
}

// ScheduledInvoice is one invoice to issue for a planned course.
type ScheduledInvoice struct {
	Kind invoice.Kind
	// Cycle is the cycle it pays for; 0 for the deposit and the course
	// invoice.
	Cycle       int
	Phase       string
	Code        string
	Description string
	// Amount is in the price list's currency.
	Amount  money.Money
	TaxRate BasisPoints
	DueDate time.Time
}

// Schedule is the invoices a course planned on plannedOn (the clinic's
// date) gets from the price list, in this order:
//
//  1. the deposit, when there is one, due DepositDueDays after planning;
//  2. with no instalments in the list, one course invoice for the rest of
//     the course price, due InstalmentLeadDays before the first cycle;
//  3. otherwise, for each phase, one instalment for each of its first
//     Count cycles in cycle order, due InstalmentLeadDays before the
//     cycle's target date.
//
// No invoice falls due before the deposit: a due date that would is moved
// to the deposit's. The amounts add up to the course price. A phase with
// fewer planned cycles than instalments is refused (ErrPlanMismatch);
// cycles beyond a phase's count, or of a phase without instalments, get
// none. Pure: the same inputs give the same schedule.
func Schedule(pl PriceList, cycles []Cycle, plannedOn time.Time, opt ScheduleOptions) ([]ScheduledInvoice, error) {
	if err := pl.Validate(); err != nil {
		return nil, err
	}
	if opt.DepositDueDays < 0 || opt.InstalmentLeadDays < 0 {
		return nil, fmt.Errorf("negative terms %+v: %w", opt, ErrInvalid)
	}
	if len(cycles) == 0 {
		return nil, fmt.Errorf("a course without cycles: %w", ErrPlanMismatch)
	}
	cs := slices.Clone(cycles)
	slices.SortStableFunc(cs, func(a, b Cycle) int { return a.Number - b.Number })
	for i, c := range cs {
		if c.Number < 1 || c.TargetDate.IsZero() || (i > 0 && cs[i-1].Number == c.Number) {
			return nil, fmt.Errorf("cycle %d: numbered from 1, once each, with a target date: %w", c.Number, ErrInvalid)
		}
	}
	plannedOn = time.Date(plannedOn.Year(), plannedOn.Month(), plannedOn.Day(), 0, 0, 0, 0, time.UTC)
	depositDue := plannedOn.AddDate(0, 0, opt.DepositDueDays)
	dueFor := func(target time.Time) time.Time {
		d := target.AddDate(0, 0, -opt.InstalmentLeadDays)
		if d.Before(depositDue) {
			return depositDue
		}
		return d
	}

	var out []ScheduledInvoice
	if pl.Deposit.IsPositive() {
		out = append(out, ScheduledInvoice{Kind: invoice.Deposit, Code: "DEPOSIT",
			Description: fmt.Sprintf("%s course deposit", pl.Program), Amount: pl.Deposit,
			TaxRate: pl.TaxRate, DueDate: depositDue})
	}
	if len(pl.Instalments) == 0 {
		// Validate checked the deposit is not above the course price.
		if rest := must(pl.CoursePrice.Sub(pl.Deposit)); rest.IsPositive() {
			out = append(out, ScheduledInvoice{Kind: invoice.Course, Code: "COURSE",
				Description: fmt.Sprintf("%s course", pl.Program), Amount: rest,
				TaxRate: pl.TaxRate, DueDate: dueFor(cs[0].TargetDate)})
		}
		return out, nil
	}
	used := map[string]int{}
	for _, c := range cs {
		in, ok := pl.Instalments[c.Phase]
		if !ok || used[c.Phase] >= in.Count {
			continue
		}
		used[c.Phase]++
		out = append(out, ScheduledInvoice{Kind: invoice.Instalment, Cycle: c.Number, Phase: c.Phase,
			Code:        "INSTALMENT",
			Description: fmt.Sprintf("%s instalment %d/%d (%s), cycle %d", pl.Program, used[c.Phase], in.Count, c.Phase, c.Number),
			Amount:      in.Amount, TaxRate: pl.TaxRate, DueDate: dueFor(c.TargetDate)})
	}
	for _, phase := range slices.Sorted(maps.Keys(pl.Instalments)) {
		if n := pl.Instalments[phase].Count; used[phase] < n {
			return nil, fmt.Errorf("phase %q has %d instalments and %d planned cycles: %w", phase, n, used[phase], ErrPlanMismatch)
		}
	}
	return out, nil
}
