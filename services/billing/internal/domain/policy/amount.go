package policy

import (
	"errors"
	"math"
	"regexp"
)

// Amount is money in integer minor units of the price list's currency. It
// is the same stand-in as invoice.Amount until the money package lands:
// all arithmetic goes through the helpers below, so the swap to
// money.Money is confined to them and the signatures.
type Amount = int64

// BasisPoints is a rate or share in hundredths of a percent: 5000 is 50 %.
type BasisPoints = int64

// whole is 100 % in basis points.
const whole BasisPoints = 10000

// ErrOverflow: an amount too large to be a real price.
var ErrOverflow = errors.New("amount out of range")

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

func add(a, b Amount) (Amount, error) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, ErrOverflow
	}
	return a + b, nil
}

// sum adds amounts, refusing an overflow.
func sum(as ...Amount) (Amount, error) {
	var s Amount
	for _, a := range as {
		var err error
		if s, err = add(s, a); err != nil {
			return 0, err
		}
	}
	return s, nil
}

// sub is a − b for amounts the callers keep in range (non-negative parts
// of a checked sum).
func sub(a, b Amount) Amount { return a - b }

// plus is a + b for parts of a checked sum (never out of range).
func plus(a, b Amount) Amount { return a + b }

func minAmount(a, b Amount) Amount {
	if a < b {
		return a
	}
	return b
}

func isNegative(a Amount) bool { return a < 0 }

func isPositive(a Amount) bool { return a > 0 }

// times is a × n for n ≥ 0, refusing an overflow.
func times(a Amount, n int64) (Amount, error) {
	if a == 0 || n == 0 {
		return 0, nil
	}
	if isNegative(a) || n < 0 || a > math.MaxInt64/n {
		return 0, ErrOverflow
	}
	return a * n, nil
}

// share is a × bp / 10000 for a ≥ 0 and 0 ≤ bp ≤ 10000, rounded once, half
// to even; the complement a − share(a) is exact, so the two parts of a
// split always add up.
func share(a Amount, bp BasisPoints) Amount {
	q, r := a/whole, a%whole
	out := q * bp
	num := r * bp
	out += num / whole
	rem := num % whole
	switch {
	case 2*rem > whole:
		out++
	case 2*rem == whole && out%2 == 1:
		out++
	}
	return out
}
