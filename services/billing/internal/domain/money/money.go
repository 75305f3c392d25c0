package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Errors of arithmetic and validation. Each is a sentinel, wrapped with the
// amounts involved, so a port tells them apart with errors.Is.
var (
	// ErrCurrencyMismatch: two amounts of different currencies were
	// combined, or an amount is not in the currency it must be in.
	ErrCurrencyMismatch = errors.New("currency mismatch")
	// ErrOverflow: the result does not fit in int64 minor units.
	ErrOverflow = errors.New("amount overflows int64 minor units")
	// ErrZeroAmount: a payment (or refund, or credit) of nothing.
	ErrZeroAmount = errors.New("amount is zero")
	// ErrNegativeAmount: a payment of less than nothing (OpenEMR accepts
	// these; we don't).
	ErrNegativeAmount = errors.New("amount is negative")
	// ErrAbsurdAmount: more than MaxAmount, a typo or an attack rather
	// than a course fee.
	ErrAbsurdAmount = errors.New("amount is above the maximum")
	// ErrBadRatio: a ratio with a zero denominator, or weights that are
	// negative or sum to nothing.
	ErrBadRatio = errors.New("invalid ratio")
)

// MaxAmount is the largest amount a single payment, refund or credit may
// have, in minor units: 10^12, that is 10 billion CNY, far above any course
// (20,000-60,000 CNY) yet far below int64's limit, so sums of many such
// amounts cannot overflow.
const MaxAmount int64 = 1_000_000_000_000

// Money is an amount in integer minor units of one currency. The zero
// Money has no currency; every operation refuses it.
type Money struct {
	minor int64
	cur   Currency
}

// New is minor units of a known currency.
func New(minor int64, c Currency) (Money, error) {
	if !c.known() {
		return Money{}, fmt.Errorf("%w: %q", ErrUnknownCurrency, c.code)
	}
	return Money{minor: minor, cur: c}, nil
}

// Zero is nothing in currency c. c must be known (ParseCurrency or one of
// the package's currencies); a zero Money of an unknown currency is refused
// by every operation that takes it.
func Zero(c Currency) Money { return Money{cur: c} }

// Amount is the amount in minor units (fen for CNY).
func (m Money) Amount() int64 { return m.minor }

// Currency is the amount's currency.
func (m Money) Currency() Currency { return m.cur }

func (m Money) same(o Money) error {
	if m.cur != o.cur || !m.cur.known() {
		return fmt.Errorf("%w: %s and %s", ErrCurrencyMismatch, m.cur.code, o.cur.code)
	}
	return nil
}

// Add is m+o, in the same currency.
func (m Money) Add(o Money) (Money, error) {
	if err := m.same(o); err != nil {
		return Money{}, err
	}
	s := m.minor + o.minor
	if (o.minor > 0 && s < m.minor) || (o.minor < 0 && s > m.minor) {
		return Money{}, fmt.Errorf("%w: %d + %d", ErrOverflow, m.minor, o.minor)
	}
	return Money{minor: s, cur: m.cur}, nil
}

// Sub is m-o, in the same currency.
func (m Money) Sub(o Money) (Money, error) {
	if err := m.same(o); err != nil {
		return Money{}, err
	}
	s := m.minor - o.minor
	if (o.minor > 0 && s > m.minor) || (o.minor < 0 && s < m.minor) {
		return Money{}, fmt.Errorf("%w: %d - %d", ErrOverflow, m.minor, o.minor)
	}
	return Money{minor: s, cur: m.cur}, nil
}

// Neg is -m; only the most negative int64 has no negation.
func (m Money) Neg() (Money, error) {
	if m.minor == math.MinInt64 {
		return Money{}, fmt.Errorf("%w: -(%d)", ErrOverflow, m.minor)
	}
	return Money{minor: -m.minor, cur: m.cur}, nil
}

// Cmp is -1, 0 or +1 as m is less than, equal to or more than o.
func (m Money) Cmp(o Money) (int, error) {
	if err := m.same(o); err != nil {
		return 0, err
	}
	switch {
	case m.minor < o.minor:
		return -1, nil
	case m.minor > o.minor:
		return 1, nil
	}
	return 0, nil
}

// Min is the smaller of m and o: what a payment pays of what is owed.
func (m Money) Min(o Money) (Money, error) {
	c, err := m.Cmp(o)
	if err != nil {
		return Money{}, err
	}
	if c <= 0 {
		return m, nil
	}
	return o, nil
}

// IsZero reports whether m is nothing (of any currency).
func (m Money) IsZero() bool { return m.minor == 0 }

// IsNegative reports whether m is below zero.
func (m Money) IsNegative() bool { return m.minor < 0 }

// IsPositive reports whether m is above zero.
func (m Money) IsPositive() bool { return m.minor > 0 }

// Sum adds amounts of currency c; nothing at all is Zero(c).
func Sum(c Currency, ms ...Money) (Money, error) {
	if !c.known() {
		return Money{}, fmt.Errorf("%w: %q", ErrUnknownCurrency, c.code)
	}
	total := Zero(c)
	for _, m := range ms {
		var err error
		if total, err = total.Add(m); err != nil {
			return Money{}, err
		}
	}
	return total, nil
}

// CheckPayment refuses an amount that no payment, refund or credit may
// have: zero, negative, above MaxAmount, or of no known currency.
func CheckPayment(m Money) error {
	switch {
	case !m.cur.known():
		return fmt.Errorf("%w: %q", ErrUnknownCurrency, m.cur.code)
	case m.minor == 0:
		return ErrZeroAmount
	case m.minor < 0:
		return fmt.Errorf("%w: %s", ErrNegativeAmount, m)
	case m.minor > MaxAmount:
		return fmt.Errorf("%w: %s", ErrAbsurdAmount, m)
	}
	return nil
}

// CheckCurrency refuses an amount that is not in currency want (a payment in
// USD on a CNY account).
func CheckCurrency(m Money, want Currency) error {
	if m.cur != want {
		return fmt.Errorf("%w: %s, want %s", ErrCurrencyMismatch, m.cur.code, want.code)
	}
	return nil
}

// MulRatio is m*num/den, rounded once, half to even ("banker's rounding"):
// an exact half goes to the even neighbour (2.5 -> 2, 3.5 -> 4, -2.5 -> -2),
// anything else to the nearest minor unit. The product is computed in 128
// bits, so only a result beyond int64 overflows. This is the one place a
// share of an amount is rounded; to split an amount into parts that must add
// up, use Allocate instead.
func (m Money) MulRatio(num, den int64) (Money, error) {
	if !m.cur.known() {
		return Money{}, fmt.Errorf("%w: %q", ErrUnknownCurrency, m.cur.code)
	}
	if den == 0 {
		return Money{}, fmt.Errorf("%w: denominator 0", ErrBadRatio)
	}
	neg := (m.minor < 0) != (num < 0) != (den < 0)
	a, n, d := abs(m.minor), abs(num), abs(den)
	hi, lo := bits.Mul64(a, n)
	if hi >= d {
		return Money{}, fmt.Errorf("%w: %d * %d / %d", ErrOverflow, m.minor, num, den)
	}
	q, r := bits.Div64(hi, lo, d)
	// Round half to even: compare r with d-r rather than 2r with d, which
	// could overflow.
	if half := d - r; r > half || (r == half && q%2 == 1) {
		q++
		if q == 0 {
			return Money{}, fmt.Errorf("%w: %d * %d / %d", ErrOverflow, m.minor, num, den)
		}
	}
	v, ok := signed(q, neg)
	if !ok {
		return Money{}, fmt.Errorf("%w: %d * %d / %d", ErrOverflow, m.minor, num, den)
	}
	return Money{minor: v, cur: m.cur}, nil
}

// ApplyRateBP is m times a rate in basis points (1 bp = 0.01%, so a 6% tax
// is 600), rounded half to even as MulRatio.
func (m Money) ApplyRateBP(bp int64) (Money, error) { return m.MulRatio(bp, 10_000) }

// Allocate splits m into len(weights) parts proportional to the weights,
// exactly: the parts always add up to m. Each part is first its share
// rounded toward zero; the minor units left over go one each to the parts
// with the largest remainders (the earlier part on a tie), the largest
// remainder method. A part of weight zero gets nothing. Used for pro-rata:
// the share of a deposit recognised for each cycle.
func (m Money) Allocate(weights ...int64) ([]Money, error) {
	if !m.cur.known() {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCurrency, m.cur.code)
	}
	if len(weights) == 0 {
		return nil, fmt.Errorf("%w: no weights", ErrBadRatio)
	}
	var total uint64
	for _, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("%w: negative weight %d", ErrBadRatio, w)
		}
		var carry uint64
		total, carry = bits.Add64(total, uint64(w), 0)
		if carry != 0 || total > math.MaxInt64 {
			return nil, fmt.Errorf("%w: weights sum beyond int64", ErrBadRatio)
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("%w: weights sum to 0", ErrBadRatio)
	}
	a := abs(m.minor)
	parts := make([]uint64, len(weights))
	rems := make([]uint64, len(weights))
	var given uint64
	for i, w := range weights {
		hi, lo := bits.Mul64(a, uint64(w))
		parts[i], rems[i] = bits.Div64(hi, lo, total) // hi < total since w <= total
		given += parts[i]
	}
	// Fewer units are left than parts with a remainder (the remainders
	// sum to left*total, each below total), so each gets at most one.
	for left := a - given; left > 0; left-- {
		best := -1
		for i := range rems {
			if rems[i] > 0 && (best < 0 || rems[i] > rems[best]) {
				best = i
			}
		}
		parts[best]++
		rems[best] = 0
	}
	out := make([]Money, len(parts))
	for i, p := range parts {
		v, _ := signed(p, m.minor < 0) // p <= |m|, so it fits
		out[i] = Money{minor: v, cur: m.cur}
	}
	return out, nil
}

// String is the amount in major units with the currency's decimals and its
// code: "20000.00 CNY", "-0.05 CNY", "1500 JPY". For logs and messages; the
// API carries minor units.
func (m Money) String() string {
	a := abs(m.minor)
	sign := ""
	if m.minor < 0 {
		sign = "-"
	}
	code := m.cur.code
	if code == "" {
		code = "???"
	}
	exp := m.cur.Exponent()
	if exp == 0 {
		return fmt.Sprintf("%s%d %s", sign, a, code)
	}
	scale := uint64(1)
	for range exp {
		scale *= 10
	}
	frac := fmt.Sprintf("%d", a%scale)
	return fmt.Sprintf("%s%d.%s%s %s", sign, a/scale, strings.Repeat("0", exp-len(frac)), frac, code)
}

func abs(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1 // -MinInt64 does not fit in int64
	}
	return uint64(v)
}

// signed is q with a sign, if it fits in int64.
func signed(q uint64, neg bool) (int64, bool) {
	if neg {
		if q > 1<<63 {
			return 0, false
		}
		return -int64(q), true // q == 1<<63 wraps to MinInt64, which is right
	}
	if q > math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}
