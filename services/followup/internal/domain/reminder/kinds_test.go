package reminder_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

func TestMoneyFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		m      reminder.Money
		en, zh string
	}{
		{reminder.Money{Minor: 123400, Currency: "CNY"}, "1,234.00 CNY", "¥1,234.00"},
		{reminder.Money{Minor: 2000000, Currency: "CNY"}, "20,000.00 CNY", "¥20,000.00"},
		{reminder.Money{Minor: 123456789, Currency: "CNY"}, "1,234,567.89 CNY", "¥1,234,567.89"},
		{reminder.Money{Minor: 5, Currency: "CNY"}, "0.05 CNY", "¥0.05"},
		{reminder.Money{Minor: 99900, Currency: "USD"}, "999.00 USD", "999.00 USD"},
		{reminder.Money{Minor: 1234, Currency: "JPY"}, "1,234 JPY", "1,234 JPY"},
	} {
		require.Equal(t, tc.en, tc.m.Format(reminder.LangEN))
		require.Equal(t, tc.zh, tc.m.Format(reminder.LangZH))
	}
}

func TestRenderStandalone(t *testing.T) {
	t.Parallel()
	d := reminder.Details{InvoiceNumber: "INV-2027-000042", AmountDue: reminder.Money{Minor: 123400, Currency: "CNY"}}
	_, body, lang := reminder.RenderStandalone(reminder.KindPayment, "en-GB", d)
	require.Equal(t, reminder.LangEN, lang)
	require.Contains(t, body, "INV-2027-000042")
	require.Contains(t, body, "1,234.00 CNY")
	_, body, lang = reminder.RenderStandalone(reminder.KindPayment, "zh-Hans-CN", d)
	require.Equal(t, reminder.LangZH, lang)
	require.Contains(t, body, "INV-2027-000042")
	require.Contains(t, body, "¥1,234.00")
	_, body, _ = reminder.RenderStandalone(reminder.KindLongTermFollowUp, "zh-CN", reminder.Details{Months: 6})
	require.Contains(t, body, "6 个月")
	_, body, _ = reminder.RenderStandalone(reminder.KindLongTermFollowUp, "", reminder.Details{Months: 12})
	require.True(t, strings.Contains(body, "12 months"), body)
}

func TestPaymentValidates(t *testing.T) {
	t.Parallel()
	at := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	cny := reminder.Money{Minor: 100, Currency: "CNY"}
	_, err := reminder.Payment(uuid.New(), uuid.New(), "INV-1", cny, at)
	require.NoError(t, err)
	for _, bad := range []func() error{
		func() error { _, err := reminder.Payment(uuid.Nil, uuid.New(), "INV-1", cny, at); return err },
		func() error { _, err := reminder.Payment(uuid.New(), uuid.New(), " ", cny, at); return err },
		func() error {
			_, err := reminder.Payment(uuid.New(), uuid.New(), "INV-1", reminder.Money{Currency: "CNY"}, at)
			return err
		},
		func() error {
			_, err := reminder.Payment(uuid.New(), uuid.New(), "INV-1", cny, time.Time{})
			return err
		},
	} {
		require.ErrorIs(t, bad(), reminder.ErrInvalidReminder)
	}
}

// The next cycle's draw is reminded before draws of cycle 2 on only.
func TestPlanNextCycleDraw(t *testing.T) {
	t.Parallel()
	rules, err := reminder.ParseRules(reminder.DefaultRules)
	require.NoError(t, err)
	rules = append(rules, reminder.NextCycleDrawRule(reminder.DefaultNextCycleDrawBefore))
	from := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	start := from.Add(10 * 24 * time.Hour)
	v := reminder.Visit{AppointmentID: uuid.New(), PatientID: uuid.New(), Kind: "draw", Cycle: 1, Start: start,
		End: start.Add(time.Hour), PatientPresent: true, Status: reminder.VisitBooked, Version: 1}
	kinds := func(v reminder.Visit) map[string]time.Time {
		out := map[string]time.Time{}
		for _, d := range reminder.Plan(rules, v, from) {
			out[d.Kind] = d.DueAt
		}
		return out
	}
	require.NotContains(t, kinds(v), reminder.KindNextCycleDraw, "cycle 1 is not a next cycle")
	v.Cycle = 2
	got := kinds(v)
	require.Equal(t, start.Add(-7*24*time.Hour), got[reminder.KindNextCycleDraw])
	require.Contains(t, got, "draw_preparation", "the draw's own reminders still apply")
	v.Kind = "infusion"
	require.NotContains(t, kinds(v), reminder.KindNextCycleDraw)
	v.Kind, v.Cycle = "draw", 0
	require.NotContains(t, kinds(v), reminder.KindNextCycleDraw, "an ad-hoc draw")
}

// Months on the clinic's calendar: the same wall-clock time across DST.
func TestFollowUpsOnTheClinicCalendar(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	done := time.Date(2027, 1, 15, 10, 0, 0, 0, berlin) // winter time
	months, err := reminder.ParseMonths(reminder.DefaultFollowUpMonths)
	require.NoError(t, err)
	rs, err := reminder.FollowUps(months, uuid.New(), uuid.New(), done.UTC(), berlin)
	require.NoError(t, err)
	require.Len(t, rs, 3)
	require.True(t, time.Date(2027, 4, 15, 10, 0, 0, 0, berlin).Equal(rs[0].DueAt), "summer time, still 10:00: %s", rs[0].DueAt.In(berlin))
	require.Equal(t, 6, rs[1].Step)
	require.True(t, time.Date(2028, 1, 15, 10, 0, 0, 0, berlin).Equal(rs[2].DueAt))
	_, err = reminder.ParseMonths("3,3")
	require.Error(t, err)
	_, err = reminder.ParseMonths("0")
	require.Error(t, err)
	off, err := reminder.ParseMonths("off")
	require.NoError(t, err)
	require.Empty(t, off)
}

// A reminder of no visit: no "visit started", quiet hours and staleness
// still apply.
func TestDecideWithoutAVisit(t *testing.T) {
	t.Parallel()
	q, err := reminder.ParseQuietHours(reminder.DefaultQuietHours)
	require.NoError(t, err)
	p := reminder.Policy{Quiet: q, StaleAfter: 12 * time.Hour}
	noon := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	require.True(t, p.Decide(noon, noon, time.Time{}, time.UTC).Send())
	night := time.Date(2027, 3, 1, 22, 0, 0, 0, time.UTC)
	require.True(t, time.Date(2027, 3, 2, 8, 0, 0, 0, time.UTC).Equal(p.Decide(night, night, time.Time{}, time.UTC).DeferUntil))
	require.Equal(t, reminder.ReasonStale, p.Decide(noon.Add(13*time.Hour), noon, time.Time{}, time.UTC).Skip)
}

// A check-in's reminder is due at the time of day on its date in the
// clinic's zone, and its text carries the link when there is one.
func TestCheckInReminder(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	id, patient := uuid.New(), uuid.New()
	date := time.Date(2027, 3, 28, 0, 0, 0, 0, time.UTC) // the day Berlin springs forward
	r, err := reminder.CheckIn(id, patient, 3, date, reminder.DefaultCheckInAt, berlin)
	require.NoError(t, err)
	require.Equal(t, time.Date(2027, 3, 28, 7, 0, 0, 0, time.UTC), r.DueAt, "09:00 CEST")
	require.Equal(t, reminder.KindCheckIn, r.Kind)
	require.Equal(t, id, r.Subject)
	require.Equal(t, 3, r.Details.Day)

	for _, bad := range []struct {
		id, patient uuid.UUID
		day         int
		at          time.Duration
	}{{uuid.Nil, patient, 1, 0}, {id, uuid.Nil, 1, 0}, {id, patient, 0, 0}, {id, patient, 1, 24 * time.Hour}, {id, patient, 1, -time.Minute}} {
		_, err := reminder.CheckIn(bad.id, bad.patient, bad.day, date, bad.at, berlin)
		require.ErrorIs(t, err, reminder.ErrInvalidReminder)
	}

	_, body, lang := reminder.RenderStandalone(reminder.KindCheckIn, "en-GB", reminder.Details{Day: 3, Link: "https://clinic.test/c/abc"})
	require.Equal(t, reminder.LangEN, lang)
	require.Contains(t, body, "Day 3")
	require.Contains(t, body, "Answer here: https://clinic.test/c/abc")
	_, body, _ = reminder.RenderStandalone(reminder.KindCheckIn, "zh-CN", reminder.Details{Day: 7})
	require.Contains(t, body, "第 7 天")
	require.Contains(t, body, "护士会与您联系", "no link: the nurse calls")

	at, err := reminder.ParseTimeOfDay("08:30")
	require.NoError(t, err)
	require.Equal(t, 8*time.Hour+30*time.Minute, at)
	off, err := reminder.ParseTimeOfDay("off")
	require.NoError(t, err)
	require.Negative(t, off)
	_, err = reminder.ParseTimeOfDay("25:00")
	require.Error(t, err)
}
