package invoice

import (
	"fmt"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// BasisPoints is a rate in hundredths of a percent: 1300 is 13 %.
type BasisPoints = int64

// maxRate is 100 %.
const maxRate BasisPoints = 10000

// Tax is the tax on a non-negative net amount at rate bp (0 to 10000),
// rounded once, half to even, to the minor unit (money's ApplyRateBP): 1 fen
// at 50 % is 0 (0.5 rounds to the even 0), 3 fen at 50 % is 2 (1.5 rounds
// to 2), 5 fen at 50 % is 2. The tax is in the net amount's currency.
func Tax(net money.Money, rate BasisPoints) (money.Money, error) {
	if net.IsNegative() || rate < 0 || rate > maxRate {
		return money.Money{}, fmt.Errorf("tax on %s at %d bp: %w", net, rate, ErrInvalid)
	}
	tax, err := net.ApplyRateBP(rate)
	if err != nil {
		return money.Money{}, fmt.Errorf("tax on %s at %d bp: %w", net, rate, err)
	}
	return tax, nil
}

// must unwraps money arithmetic the aggregate's invariants keep valid:
// every amount is in the invoice's currency (checked where it comes in),
// and the sums and differences are of parts of a checked total, far from
// int64's limits. An error here is a corrupt invoice, not a bad request.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("invoice: %v", err))
	}
	return v
}
