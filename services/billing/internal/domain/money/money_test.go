package money_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

func cny(t *testing.T, v int64) money.Money {
	t.Helper()
	m, err := money.New(v, money.CNY)
	require.NoError(t, err)
	return m
}

func TestParseCurrency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		exp     int
		wantErr error
	}{
		{in: "CNY", exp: 2},
		{in: "JPY", exp: 0},
		{in: "EUR", exp: 2},
		{in: "cny", wantErr: money.ErrMalformedCurrency},
		{in: " CNY", wantErr: money.ErrMalformedCurrency},
		{in: "CN", wantErr: money.ErrMalformedCurrency},
		{in: "", wantErr: money.ErrMalformedCurrency},
		{in: "C1Y", wantErr: money.ErrMalformedCurrency},
		{in: "XXX", wantErr: money.ErrUnknownCurrency},
		{in: "ABC", wantErr: money.ErrUnknownCurrency},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			c, err := money.ParseCurrency(tc.in)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.in, c.Code())
			require.Equal(t, tc.exp, c.Exponent())
		})
	}
	_, err := money.New(1, money.Currency{})
	require.ErrorIs(t, err, money.ErrUnknownCurrency, "no currency is no money")
}

func TestArithmetic(t *testing.T) {
	t.Parallel()
	maxM := cny(t, math.MaxInt64)
	minM := cny(t, math.MinInt64)
	usd, err := money.New(100, money.USD)
	require.NoError(t, err)
	type op func(a, b money.Money) (money.Money, error)
	add := func(a, b money.Money) (money.Money, error) { return a.Add(b) }
	sub := func(a, b money.Money) (money.Money, error) { return a.Sub(b) }
	minOf := func(a, b money.Money) (money.Money, error) { return a.Min(b) }
	for _, tc := range []struct {
		name    string
		op      op
		a, b    money.Money
		want    int64
		wantErr error
	}{
		{name: "add", op: add, a: cny(t, 150), b: cny(t, 250), want: 400},
		{name: "add negative", op: add, a: cny(t, 150), b: cny(t, -250), want: -100},
		{name: "add overflow", op: add, a: maxM, b: cny(t, 1), wantErr: money.ErrOverflow},
		{name: "add underflow", op: add, a: minM, b: cny(t, -1), wantErr: money.ErrOverflow},
		{name: "add to the edge", op: add, a: cny(t, math.MaxInt64-1), b: cny(t, 1), want: math.MaxInt64},
		{name: "add mismatch", op: add, a: cny(t, 1), b: usd, wantErr: money.ErrCurrencyMismatch},
		{name: "add zero value", op: add, a: cny(t, 1), b: money.Money{}, wantErr: money.ErrCurrencyMismatch},
		{name: "sub", op: sub, a: cny(t, 150), b: cny(t, 250), want: -100},
		{name: "sub overflow", op: sub, a: minM, b: cny(t, 1), wantErr: money.ErrOverflow},
		{name: "sub overflow up", op: sub, a: maxM, b: cny(t, -1), wantErr: money.ErrOverflow},
		{name: "sub min from zero", op: sub, a: cny(t, 0), b: minM, wantErr: money.ErrOverflow},
		{name: "sub mismatch", op: sub, a: cny(t, 1), b: usd, wantErr: money.ErrCurrencyMismatch},
		{name: "min", op: minOf, a: cny(t, 3), b: cny(t, 2), want: 2},
		{name: "min first", op: minOf, a: cny(t, -3), b: cny(t, 2), want: -3},
		{name: "min mismatch", op: minOf, a: cny(t, 3), b: usd, wantErr: money.ErrCurrencyMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.op(tc.a, tc.b)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Amount())
			require.Equal(t, money.CNY, got.Currency())
		})
	}
}

func TestNegCmpAndSigns(t *testing.T) {
	t.Parallel()
	n, err := cny(t, 5).Neg()
	require.NoError(t, err)
	require.Equal(t, int64(-5), n.Amount())
	require.True(t, n.IsNegative())
	require.False(t, n.IsPositive())
	_, err = cny(t, math.MinInt64).Neg()
	require.ErrorIs(t, err, money.ErrOverflow)
	require.True(t, money.Zero(money.CNY).IsZero())
	for _, tc := range []struct{ a, b, want int64 }{{1, 2, -1}, {2, 1, 1}, {2, 2, 0}, {math.MinInt64, math.MaxInt64, -1}} {
		c, err := cny(t, tc.a).Cmp(cny(t, tc.b))
		require.NoError(t, err)
		require.EqualValues(t, tc.want, c)
	}
	_, err = cny(t, 1).Cmp(money.Zero(money.JPY))
	require.ErrorIs(t, err, money.ErrCurrencyMismatch)
	s, err := money.Sum(money.CNY, cny(t, 1), cny(t, 2), cny(t, 3))
	require.NoError(t, err)
	require.Equal(t, int64(6), s.Amount())
	require.NoError(t, money.CheckCurrency(s, money.CNY))
	require.ErrorIs(t, money.CheckCurrency(s, money.USD), money.ErrCurrencyMismatch)
}

func TestCheckPayment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		m       money.Money
		wantErr error
	}{
		{name: "a course deposit", m: cny(t, 2_000_000)},
		{name: "one fen", m: cny(t, 1)},
		{name: "the maximum", m: cny(t, money.MaxAmount)},
		{name: "zero", m: cny(t, 0), wantErr: money.ErrZeroAmount},
		{name: "negative", m: cny(t, -100), wantErr: money.ErrNegativeAmount},
		{name: "above the maximum", m: cny(t, money.MaxAmount+1), wantErr: money.ErrAbsurdAmount},
		{name: "int64 max", m: cny(t, math.MaxInt64), wantErr: money.ErrAbsurdAmount},
		{name: "no currency", m: money.Money{}, wantErr: money.ErrUnknownCurrency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := money.CheckPayment(tc.m)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestMulRatioRoundsHalfToEven(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		v, num, den  int64
		want         int64
		wantOverflow bool
		wantBadRatio bool
	}{
		{name: "exact", v: 1000, num: 3, den: 10, want: 300},
		{name: "2.5 to 2", v: 5, num: 1, den: 2, want: 2},
		{name: "3.5 to 4", v: 7, num: 1, den: 2, want: 4},
		{name: "-2.5 to -2", v: -5, num: 1, den: 2, want: -2},
		{name: "-3.5 to -4", v: -7, num: 1, den: 2, want: -4},
		{name: "2.4 down", v: 12, num: 1, den: 5, want: 2},
		{name: "2.6 up", v: 13, num: 1, den: 5, want: 3},
		{name: "a third", v: 100, num: 1, den: 3, want: 33},
		{name: "two thirds", v: 100, num: 2, den: 3, want: 67},
		{name: "negative denominator", v: 5, num: 1, den: -2, want: -2},
		{name: "128-bit product", v: math.MaxInt64, num: 10, den: 20, want: 1 << 62},
		{name: "max times one", v: math.MaxInt64, num: 1, den: 1, want: math.MaxInt64},
		{name: "min times one", v: math.MinInt64, num: 1, den: 1, want: math.MinInt64},
		{name: "overflow", v: math.MaxInt64, num: 2, den: 1, wantOverflow: true},
		{name: "min negated", v: math.MinInt64, num: -1, den: 1, wantOverflow: true},
		{name: "zero denominator", v: 5, num: 1, den: 0, wantBadRatio: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := cny(t, tc.v).MulRatio(tc.num, tc.den)
			switch {
			case tc.wantOverflow:
				require.ErrorIs(t, err, money.ErrOverflow)
			case tc.wantBadRatio:
				require.ErrorIs(t, err, money.ErrBadRatio)
			default:
				require.NoError(t, err)
				require.Equal(t, tc.want, got.Amount())
			}
		})
	}
}

func TestApplyRateBP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ v, bp, want int64 }{
		{v: 2_000_000, bp: 600, want: 120_000}, // 6% of 20,000.00
		{v: 25, bp: 1000, want: 2},             // 2.5 -> 2
		{v: 35, bp: 1000, want: 4},             // 3.5 -> 4
		{v: 1, bp: 5000, want: 0},              // 0.5 -> 0
		{v: 3, bp: 5000, want: 2},              // 1.5 -> 2
		{v: 12345, bp: 0, want: 0},
	} {
		got, err := cny(t, tc.v).ApplyRateBP(tc.bp)
		require.NoError(t, err)
		require.Equal(t, tc.want, got.Amount(), "%d at %d bp", tc.v, tc.bp)
	}
}

func TestAllocate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		v       int64
		weights []int64
		want    []int64
	}{
		{name: "even", v: 300, weights: []int64{1, 1, 1}, want: []int64{100, 100, 100}},
		{name: "a third each", v: 100, weights: []int64{1, 1, 1}, want: []int64{34, 33, 33}},
		{name: "largest remainder wins", v: 100, weights: []int64{1, 2}, want: []int64{33, 67}},
		{name: "zero weight gets nothing", v: 101, weights: []int64{0, 1, 1}, want: []int64{0, 51, 50}},
		{name: "one fen in seven", v: 1, weights: []int64{1, 1, 1, 1, 1, 1, 1}, want: []int64{1, 0, 0, 0, 0, 0, 0}},
		{name: "negative", v: -100, weights: []int64{1, 1, 1}, want: []int64{-34, -33, -33}},
		{name: "nothing", v: 0, weights: []int64{3, 7}, want: []int64{0, 0}},
		{name: "deposit over six cycles", v: 1_000_000, weights: []int64{1, 1, 1, 1, 1, 1}, want: []int64{166667, 166667, 166667, 166667, 166666, 166666}},
		{name: "int64 extremes", v: math.MinInt64, weights: []int64{1, math.MaxInt64 - 1}, want: []int64{-1, math.MinInt64 + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parts, err := cny(t, tc.v).Allocate(tc.weights...)
			require.NoError(t, err)
			got := make([]int64, len(parts))
			for i, p := range parts {
				got[i] = p.Amount()
			}
			require.Equal(t, tc.want, got)
		})
	}
	for _, bad := range [][]int64{nil, {0, 0}, {1, -1}, {math.MaxInt64, 1}} {
		_, err := cny(t, 100).Allocate(bad...)
		require.ErrorIs(t, err, money.ErrBadRatio, "%v", bad)
	}
}

func TestAllocateAlwaysSumsToTheWhole(t *testing.T) {
	t.Parallel()
	weightSets := [][]int64{{1, 1, 1}, {7, 13, 29, 101}, {1, 999_999_999}, {3, 0, 5, 0, 11}, {math.MaxInt64 / 3, math.MaxInt64 / 3, 1}, {2, 3, 5, 7, 11, 13, 17, 19, 23}}
	amounts := []int64{0, 1, 2, 99, 100, 101, 1_000_003, -1_000_003, money.MaxAmount, math.MaxInt64, math.MinInt64}
	for _, w := range weightSets {
		for _, v := range amounts {
			parts, err := cny(t, v).Allocate(w...)
			require.NoError(t, err)
			sum := money.Zero(money.CNY)
			for i, p := range parts {
				if w[i] == 0 {
					require.True(t, p.IsZero())
				}
				sum, err = sum.Add(p)
				require.NoError(t, err)
			}
			require.Equal(t, v, sum.Amount(), "%d by %v", v, w)
		}
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	jpy, err := money.New(-1500, money.JPY)
	require.NoError(t, err)
	for _, tc := range []struct {
		m    money.Money
		want string
	}{
		{m: cny(t, 2_000_000), want: "20000.00 CNY"},
		{m: cny(t, 5), want: "0.05 CNY"},
		{m: cny(t, -105), want: "-1.05 CNY"},
		{m: cny(t, 0), want: "0.00 CNY"},
		{m: cny(t, math.MinInt64), want: "-92233720368547758.08 CNY"},
		{m: jpy, want: "-1500 JPY"},
	} {
		require.Equal(t, tc.want, tc.m.String())
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(cny(t, 2_000_000))
	require.NoError(t, err)
	require.JSONEq(t, `{"value": 2000000, "currency": "CNY"}`, string(b))
	_, err = json.Marshal(money.Money{})
	require.Error(t, err, "the zero Money has no JSON form")

	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{in: `{"value": 2000000, "currency": "CNY"}`, want: 2_000_000, ok: true},
		{in: `{"currency":"CNY","value":-5}`, want: -5, ok: true},
		{in: `{"value": 9223372036854775807, "currency": "CNY"}`, want: math.MaxInt64, ok: true},
		{in: `{"value": -9223372036854775808, "currency": "CNY"}`, want: math.MinInt64, ok: true},
		{in: `{"value": 9223372036854775808, "currency": "CNY"}`},
		{in: `{"value": 1.5, "currency": "CNY"}`},
		{in: `{"value": 2000000.0, "currency": "CNY"}`},
		{in: `{"value": 1e3, "currency": "CNY"}`},
		{in: `{"value": 1E3, "currency": "CNY"}`},
		{in: `{"value": "2000000", "currency": "CNY"}`},
		{in: `{"value": null, "currency": "CNY"}`},
		{in: `{"value": true, "currency": "CNY"}`},
		{in: `{"value": [1], "currency": "CNY"}`},
		{in: `{"value": {}, "currency": "CNY"}`},
		{in: `{"value": 01, "currency": "CNY"}`},
		{in: `{"value": 1, "currency": "cny"}`},
		{in: `{"value": 1, "currency": "XXX"}`},
		{in: `{"value": 1, "currency": null}`},
		{in: `{"value": 1, "currency": 156}`},
		{in: `{"value": 1}`},
		{in: `{"currency": "CNY"}`},
		{in: `{}`},
		{in: `null`},
		{in: `2000000`},
		{in: `"2000000 CNY"`},
		{in: `{"value": 1, "currency": "CNY", "note": "x"}`},
		{in: `{"Value": 1, "currency": "CNY"}`},
		{in: `{"value": 1, "value": 2, "currency": "CNY"}`},
		{in: `{"value": 1, "currency": "CNY", "currency": "USD"}`},
		{in: `{"value": 1 "currency": "CNY"}`},
		{in: `{"value": 1, "currency": "CNY"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			var m money.Money
			err := json.Unmarshal([]byte(tc.in), &m)
			if !tc.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, m.Amount())
			require.Equal(t, money.CNY, m.Currency())
		})
	}
}

func TestJSONInsideAStructIsStrictToo(t *testing.T) {
	t.Parallel()
	var req struct {
		Amount money.Money `json:"amount"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"amount": {"value": 150, "currency": "HKD"}}`), &req))
	require.Equal(t, money.HKD, req.Amount.Currency())
	require.Error(t, json.Unmarshal([]byte(`{"amount": {"value": 1.5, "currency": "HKD"}}`), &req))
}

func FuzzMoneyJSON(f *testing.F) {
	for _, s := range []string{
		`{"value": 2000000, "currency": "CNY"}`, `{"value": -1, "currency": "JPY"}`, `{"value": 1.5, "currency": "CNY"}`,
		`{"value": 1e3, "currency": "USD"}`, `{"value": 9223372036854775808, "currency": "CNY"}`, `{}`, `null`,
		`{"value": 1, "value": 1, "currency": "EUR"}`, `{"currency": "HKD", "value": 0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m money.Money
		if err := json.Unmarshal(data, &m); err != nil {
			return
		}
		out, err := json.Marshal(m)
		require.NoError(t, err, "anything read can be written")
		var back money.Money
		require.NoError(t, json.Unmarshal(out, &back), "%s", out)
		require.Equal(t, m, back)
		_ = m.String()
	})
}
