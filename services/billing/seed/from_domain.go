package seed

import (
	"maps"
	"slices"
	"time"

	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

// FromPriceList is pl in the stored shape, the inverse of
// PriceListJSON.ToDomain.
func FromPriceList(pl policy.PriceList) PriceListJSON {
	pj := PriceListJSON{Program: pl.Program, ProtocolVersion: pl.ProtocolVersion, ValidFrom: pl.ValidFrom.Format(time.DateOnly),
		Currency: pl.Currency.String(), CoursePrice: pl.CoursePrice.Amount(), Deposit: pl.Deposit.Amount(),
		LabFee: pl.LabFee.Amount(), PerInfusion: pl.PerInfusion.Amount(), TaxRateBP: pl.TaxRate}
	if !pl.ValidTo.IsZero() {
		pj.ValidTo = pl.ValidTo.Format(time.DateOnly)
	}
	if len(pl.Instalments) > 0 {
		pj.Instalments = map[string]InstalmentJSON{}
		for _, phase := range slices.Sorted(maps.Keys(pl.Instalments)) {
			in := pl.Instalments[phase]
			pj.Instalments[phase] = InstalmentJSON{Amount: in.Amount.Amount(), Count: in.Count}
		}
	}
	return pj
}

func fromStageRule(r policy.StageRule) StageRuleJSON {
	return StageRuleJSON{ForfeitLabFee: r.ForfeitLabFee, KeepInfusions: r.KeepInfusions, RefundShareBP: r.RefundShare, RestTo: string(r.RestTo)}
}

// FromPolicy is p in the stored shape, the inverse of
// CancellationPolicyJSON.ToDomain.
func FromPolicy(p policy.CancellationPolicy) CancellationPolicyJSON {
	return CancellationPolicyJSON{Program: p.Program, BeforeCulture: fromStageRule(p.BeforeCulture),
		CultureStarted: fromStageRule(p.CultureStarted), InfusionsGiven: fromStageRule(p.InfusionsGiven),
		KeepLabFeeOnProductFailure: p.KeepLabFeeOnProductFailure}
}
