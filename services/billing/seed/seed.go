// Package seed is billing's reference data as the clinic edits it: price
// lists and cancellation policies per program, in the JSON shape the admin
// API and `make run`'s demo data share. Amounts are minor units (fen) of
// the list's currency; ToDomain makes them money.Money.
package seed

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

// InstalmentJSON is one phase's instalments.
type InstalmentJSON struct {
	Amount int64 `json:"amount"`
	Count  int   `json:"count"`
}

// PriceListJSON is one price list.
type PriceListJSON struct {
	Program         string                    `json:"program"`
	ProtocolVersion string                    `json:"protocol_version"`
	ValidFrom       string                    `json:"valid_from"`
	ValidTo         string                    `json:"valid_to,omitempty"`
	Currency        string                    `json:"currency"`
	CoursePrice     int64                     `json:"course_price"`
	Deposit         int64                     `json:"deposit"`
	Instalments     map[string]InstalmentJSON `json:"instalments,omitempty"`
	LabFee          int64                     `json:"lab_fee"`
	PerInfusion     int64                     `json:"per_infusion"`
	TaxRateBP       int64                     `json:"tax_rate_bp"`
}

// ToDomain is the price list, validated: its amounts are Money in its
// currency, which must be one money knows.
func (p PriceListJSON) ToDomain() (policy.PriceList, error) {
	from, err := time.Parse(time.DateOnly, p.ValidFrom)
	if err != nil {
		return policy.PriceList{}, fmt.Errorf("price list %s: valid_from: %w", p.Program, err)
	}
	cur, err := money.ParseCurrency(p.Currency)
	if err != nil {
		return policy.PriceList{}, fmt.Errorf("price list %s: currency: %w: %w", p.Program, err, policy.ErrInvalid)
	}
	// A known currency: money.New cannot fail.
	in := func(minor int64) money.Money { m, _ := money.New(minor, cur); return m }
	pl := policy.PriceList{Program: p.Program, ProtocolVersion: p.ProtocolVersion, ValidFrom: from, Currency: cur,
		CoursePrice: in(p.CoursePrice), Deposit: in(p.Deposit), LabFee: in(p.LabFee), PerInfusion: in(p.PerInfusion),
		TaxRate: p.TaxRateBP}
	if p.ValidTo != "" {
		if pl.ValidTo, err = time.Parse(time.DateOnly, p.ValidTo); err != nil {
			return policy.PriceList{}, fmt.Errorf("price list %s: valid_to: %w", p.Program, err)
		}
	}
	if len(p.Instalments) > 0 {
		pl.Instalments = map[string]policy.Instalment{}
		for phase, inst := range p.Instalments {
			pl.Instalments[phase] = policy.Instalment{Amount: in(inst.Amount), Count: inst.Count}
		}
	}
	return pl, pl.Validate()
}

// StageRuleJSON is what a cancellation at one stage does.
type StageRuleJSON struct {
	ForfeitLabFee bool   `json:"forfeit_lab_fee,omitempty"`
	KeepInfusions bool   `json:"keep_infusions,omitempty"`
	RefundShareBP int64  `json:"refund_share_bp"`
	RestTo        string `json:"rest_to,omitempty"`
}

func (r StageRuleJSON) toDomain() policy.StageRule {
	return policy.StageRule{ForfeitLabFee: r.ForfeitLabFee, KeepInfusions: r.KeepInfusions,
		RefundShare: r.RefundShareBP, RestTo: policy.Destination(r.RestTo)}
}

// CancellationPolicyJSON is a program's cancellation terms.
type CancellationPolicyJSON struct {
	Program                    string        `json:"program"`
	BeforeCulture              StageRuleJSON `json:"before_culture"`
	CultureStarted             StageRuleJSON `json:"culture_started"`
	InfusionsGiven             StageRuleJSON `json:"infusions_given"`
	KeepLabFeeOnProductFailure bool          `json:"keep_lab_fee_on_product_failure"`
}

// ToDomain is the policy, validated.
func (p CancellationPolicyJSON) ToDomain() (policy.CancellationPolicy, error) {
	cp := policy.CancellationPolicy{Program: p.Program, BeforeCulture: p.BeforeCulture.toDomain(),
		CultureStarted: p.CultureStarted.toDomain(), InfusionsGiven: p.InfusionsGiven.toDomain(),
		KeepLabFeeOnProductFailure: p.KeepLabFeeOnProductFailure}
	return cp, cp.Validate()
}

// Data is the demo reference data `make run` seeds.
type Data struct {
	PriceLists           []PriceListJSON          `json:"price_lists"`
	CancellationPolicies []CancellationPolicyJSON `json:"cancellation_policies"`
}

//go:embed reference.json
var reference []byte

// Reference is the demo reference data.
func Reference() (Data, error) {
	var d Data
	if err := json.Unmarshal(reference, &d); err != nil {
		return d, fmt.Errorf("billing seed: %w", err)
	}
	return d, nil
}
