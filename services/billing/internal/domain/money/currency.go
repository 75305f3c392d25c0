// Package money is an amount of money: int64 minor units (fen, cents) of one
// ISO 4217 currency, never a float, never two currencies mixed. Rounding
// happens only in MulRatio (and ApplyRateBP, which is MulRatio by basis
// points), always half to even, and in Allocate, which never rounds the whole
// away: its parts add up to it exactly. Pure Go, no I/O.
package money

import (
	"errors"
	"fmt"
)

// Currency is an ISO 4217 currency the clinic knows. The zero Currency is
// none: Money needs a known one.
type Currency struct {
	code string
}

// Errors of ParseCurrency.
var (
	// ErrMalformedCurrency: not three upper-case letters.
	ErrMalformedCurrency = errors.New("not an ISO 4217 currency code")
	// ErrUnknownCurrency: three letters, but not a currency in the table:
	// its minor unit is unknown, so no amount in it can be read right.
	ErrUnknownCurrency = errors.New("unknown currency")
)

// exponents is the minor unit of each currency we accept (ISO 4217's
// "minor unit" column). A currency is added here, with its exponent, before
// any amount in it is accepted.
var exponents = map[string]int{
	"CNY": 2,
	"HKD": 2,
	"USD": 2,
	"EUR": 2,
	"GBP": 2,
	"SGD": 2,
	"JPY": 0,
	"KRW": 0,
}

// The currencies code is most likely to name.
var (
	CNY = Currency{code: "CNY"}
	HKD = Currency{code: "HKD"}
	USD = Currency{code: "USD"}
	EUR = Currency{code: "EUR"}
	JPY = Currency{code: "JPY"}
)

// ParseCurrency reads an ISO 4217 code. It must be three upper-case
// letters, exactly: "cny" and " CNY" are refused rather than guessed at.
func ParseCurrency(s string) (Currency, error) {
	if len(s) != 3 {
		return Currency{}, fmt.Errorf("%w: %q", ErrMalformedCurrency, s)
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return Currency{}, fmt.Errorf("%w: %q", ErrMalformedCurrency, s)
		}
	}
	if _, ok := exponents[s]; !ok {
		return Currency{}, fmt.Errorf("%w: %s", ErrUnknownCurrency, s)
	}
	return Currency{code: s}, nil
}

// Code is the three-letter code; "" for the zero Currency.
func (c Currency) Code() string { return c.code }

// String is the code.
func (c Currency) String() string { return c.code }

// IsZero reports whether c is no currency at all.
func (c Currency) IsZero() bool { return c.code == "" }

// Exponent is the number of decimal places of the minor unit: 2 for CNY
// (fen), 0 for JPY.
func (c Currency) Exponent() int { return exponents[c.code] }

func (c Currency) known() bool {
	_, ok := exponents[c.code]
	return ok
}
