package invoice

import (
	"errors"
	"fmt"
	"math"
	"regexp"
)

// Amount is money in integer minor units (fen for CNY) of the invoice's
// currency. It is a stand-in until the money package lands: every
// arithmetic on amounts goes through the helpers below, so replacing
// Amount with money.Money changes this file and the signatures, not the
// rules.
type Amount = int64

// BasisPoints is a rate in hundredths of a percent: 1300 is 13 %.
type BasisPoints = int64

// maxRate is 100 %.
const maxRate BasisPoints = 10000

// ErrOverflow: an amount too large to be a real price (int64 minor units
// would overflow).
var ErrOverflow = errors.New("amount out of range")

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

func validCurrency(c string) bool { return currencyCode.MatchString(c) }

func add(a, b Amount) (Amount, error) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, ErrOverflow
	}
	return a + b, nil
}

func sub(a, b Amount) (Amount, error) {
	if b == math.MinInt64 {
		return 0, ErrOverflow
	}
	return add(a, -b)
}

// mustAdd and mustSub are for sums the aggregate's invariants keep far
// below the limit (parts of an issued total, which itself was checked).
func mustAdd(a, b Amount) Amount {
	s, err := add(a, b)
	if err != nil {
		panic(fmt.Sprintf("invoice: %d + %d overflows", a, b))
	}
	return s
}

func mustSub(a, b Amount) Amount {
	s, err := sub(a, b)
	if err != nil {
		panic(fmt.Sprintf("invoice: %d - %d overflows", a, b))
	}
	return s
}

func minAmount(a, b Amount) Amount {
	if a < b {
		return a
	}
	return b
}

func isPositive(a Amount) bool { return a > 0 }

func isNegative(a Amount) bool { return a < 0 }

// mul is quantity × unit price, refused when it overflows.
func mul(unit Amount, qty int64) (Amount, error) {
	if unit == 0 || qty == 0 {
		return 0, nil
	}
	p := unit * qty
	if p/qty != unit || (unit == -1 && qty == math.MinInt64) || (qty == -1 && unit == math.MinInt64) {
		return 0, ErrOverflow
	}
	return p, nil
}

// Tax is the tax on a non-negative net amount at rate bp, rounded once,
// half to even, to the minor unit: 1 fen at 50 % is 0 (0.5 rounds to the
// even 0), 3 fen at 50 % is 2 (1.5 rounds to 2), 5 fen at 50 % is 2.
func Tax(net Amount, rate BasisPoints) (Amount, error) {
	return shareHalfEven(net, rate)
}

// shareHalfEven is a × bp / 10000 rounded half to even, for a ≥ 0 and
// 0 ≤ bp ≤ 10000; computed without forming a × bp, so it cannot overflow.
func shareHalfEven(a Amount, bp BasisPoints) (Amount, error) {
	if isNegative(a) || bp < 0 || bp > maxRate {
		return 0, fmt.Errorf("share of %d at %d bp: %w", a, bp, ErrOverflow)
	}
	q, r := a/maxRate, a%maxRate
	// a×bp/10000 = q×bp + r×bp/10000, with r×bp < 10^8.
	whole := q * bp
	num := r * bp
	whole += num / maxRate
	rem := num % maxRate
	switch {
	case 2*rem > maxRate:
		whole++
	case 2*rem == maxRate && whole%2 == 1:
		whole++
	}
	return whole, nil
}
