package policy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

// list is nk() valid from..to (to zero: open-ended).
func list(from, to time.Time) policy.PriceList {
	pl := nk()
	pl.ValidFrom, pl.ValidTo = from, to
	return pl
}

func TestOverlaps(t *testing.T) {
	t.Parallel()
	open := time.Time{}
	jan, feb, mar := day(2027, 1, 1), day(2027, 2, 1), day(2027, 3, 1)
	for _, tc := range []struct {
		name string
		a, b policy.PriceList
		want bool
	}{
		{"two open-ended", list(jan, open), list(mar, open), true},
		{"bounded before open-ended", list(jan, feb.AddDate(0, 0, -1)), list(feb, open), false},
		{"sharing the last day", list(jan, feb), list(feb, open), true},
		{"inside", list(jan, mar), list(feb, feb), true},
		{"after a bounded one", list(jan, feb), list(mar, open), false},
		{"another version", list(jan, open), func() policy.PriceList { p := list(jan, open); p.ProtocolVersion = "v4"; return p }(), false},
		{"another program", list(jan, open), func() policy.PriceList { p := list(jan, open); p.Program = "msc"; return p }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.a.Overlaps(tc.b))
			require.Equal(t, tc.want, tc.b.Overlaps(tc.a), "symmetric")
		})
	}
}

func TestCheckNewAndClose(t *testing.T) {
	t.Parallel()
	today := day(2027, 1, 10)
	current := list(day(2026, 1, 1), time.Time{})

	err := policy.CheckNew(list(day(2027, 2, 1), time.Time{}), []policy.PriceList{current}, today)
	var oe *policy.OverlapError
	require.True(t, errors.As(err, &oe), "%v", err)
	require.Equal(t, current.ValidFrom, oe.Other.ValidFrom, "names the other list")
	require.ErrorIs(t, err, policy.ErrOverlap)
	require.ErrorIs(t, policy.CheckNew(list(day(2027, 1, 9), time.Time{}), nil, today), policy.ErrPast)
	require.NoError(t, policy.CheckNew(list(today, time.Time{}), nil, today), "from today is fine")
	bad := list(day(2027, 2, 1), time.Time{})
	bad.Deposit = yuan(40_000)
	require.ErrorIs(t, policy.CheckNew(bad, nil, today), policy.ErrInvalid)

	closed, err := policy.Supersede(current, list(day(2027, 2, 1), time.Time{}), today)
	require.NoError(t, err)
	require.Equal(t, day(2027, 1, 31), closed.ValidTo, "the day before")
	require.Equal(t, current.CoursePrice, closed.CoursePrice, "closing changes no price")
	require.NoError(t, policy.CheckNew(list(day(2027, 2, 1), time.Time{}), []policy.PriceList{closed}, today))

	_, err = policy.Supersede(current, list(today, time.Time{}), today)
	require.ErrorIs(t, err, policy.ErrPast, "today's list is history: a change starts tomorrow at the earliest")
	_, err = current.CloseOn(day(2027, 1, 9), today)
	require.ErrorIs(t, err, policy.ErrPast)
	_, err = closed.CloseOn(day(2027, 3, 1), today)
	require.ErrorIs(t, err, policy.ErrExtends)
	shorter, err := closed.CloseOn(today, today)
	require.NoError(t, err)
	require.Equal(t, today, shorter.ValidTo)
	_, err = list(day(2027, 3, 1), time.Time{}).CloseOn(day(2027, 2, 1), today)
	require.ErrorIs(t, err, policy.ErrInvalid, "before it starts")
	_, err = policy.Supersede(current, func() policy.PriceList { p := list(day(2027, 2, 1), time.Time{}); p.ProtocolVersion = "v9"; return p }(), today)
	require.ErrorIs(t, err, policy.ErrInvalid, "another version")
}
