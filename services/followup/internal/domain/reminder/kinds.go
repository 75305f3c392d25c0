package reminder

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Kinds of reminders that are not a fixed offset before every visit.
const (
	// KindNextCycleDraw reminds of the draw that starts the next cycle of a
	// course (a draw of cycle 2 or later).
	KindNextCycleDraw = "next_cycle_draw"
	// KindPayment reminds of an overdue invoice.
	KindPayment = "payment"
	// KindLongTermFollowUp invites the patient back months after the course.
	KindLongTermFollowUp = "long_term_follow_up"
	// KindCheckIn asks the patient for a post-infusion check-in on its day,
	// with the link to answer it.
	KindCheckIn = "check_in"
)

// DefaultNextCycleDrawBefore: the next cycle's draw is reminded a week
// ahead.
const DefaultNextCycleDrawBefore = 7 * 24 * time.Hour

// NextCycleDrawRule is the rule of the next cycle's draw.
//
// Scheduling books a later cycle's chain (its draw first) as appointments
// when the previous cycle's infusion is completed, and publishes each as
// AppointmentBooked with its cycle. So the next cycle's draw is a visit like
// any other: the visit reminders and draw_preparation already cover it, and
// "when its time comes" needs only this rule, before draws of cycle 2 on.
func NextCycleDrawRule(before time.Duration) Rule {
	return Rule{Kind: KindNextCycleDraw, Before: before, VisitKinds: []string{"draw"}, FromCycle: 2}
}

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Minor    int64
	Currency string
}

// minorDigits: currencies whose minor unit is not a hundredth.
var minorDigits = map[string]int{"JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}

// Format writes m for a reader of lang: "1,234.00 CNY" in English, and in
// Chinese "¥1,234.00" for yuan (other currencies as in English).
func (m Money) Format(lang string) string {
	digits, ok := minorDigits[m.Currency]
	if !ok {
		digits = 2
	}
	sign, v := "", m.Minor
	if v < 0 {
		sign, v = "-", -v
	}
	unit := int64(1)
	for range digits {
		unit *= 10
	}
	n := sign + group(strconv.FormatInt(v/unit, 10))
	if digits > 0 {
		n += fmt.Sprintf(".%0*d", digits, v%unit)
	}
	if lang == LangZH && m.Currency == "CNY" {
		return "¥" + n
	}
	return n + " " + m.Currency
}

// group puts thousands separators into a string of digits.
func group(d string) string {
	var b strings.Builder
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Standalone is a reminder about no visit: an overdue invoice or a
// course's long-term follow-up. Its unique key is (Subject, Kind, Step).
type Standalone struct {
	Kind string
	// Subject is the invoice (payment) or the course (long-term follow-up).
	Subject   uuid.UUID
	PatientID uuid.UUID
	// Step tells the reminders of one subject and kind apart: the months
	// after the course for a long-term follow-up, 0 for a payment.
	Step  int
	DueAt time.Time
	// Details is what the text names; nothing else about the patient.
	Details Details
}

// Details is what a standalone reminder's text names.
type Details struct {
	InvoiceNumber string
	AmountDue     Money
	Months        int
	// Day is a check-in's day after the infusion.
	Day int
	// Link is where the patient answers a check-in: made when the reminder
	// is sent (it is a credential, so it is not stored), empty when the
	// clinic issues no links.
	Link string
}

// ErrInvalidReminder: an event follow-up cannot make a reminder of.
var ErrInvalidReminder = errors.New("invalid reminder")

// Payment is the reminder of an overdue invoice, due when it became
// overdue: one per invoice.
func Payment(invoice, patient uuid.UUID, number string, due Money, at time.Time) (Standalone, error) {
	switch {
	case invoice == uuid.Nil || patient == uuid.Nil:
		return Standalone{}, fmt.Errorf("%w: a payment reminder needs an invoice and a patient", ErrInvalidReminder)
	case strings.TrimSpace(number) == "" || due.Minor <= 0 || len(due.Currency) != 3:
		return Standalone{}, fmt.Errorf("%w: a payment reminder needs the invoice's number and a positive amount due", ErrInvalidReminder)
	case at.IsZero():
		return Standalone{}, fmt.Errorf("%w: a payment reminder needs the time the invoice became overdue", ErrInvalidReminder)
	}
	return Standalone{Kind: KindPayment, Subject: invoice, PatientID: patient, DueAt: at,
		Details: Details{InvoiceNumber: number, AmountDue: due}}, nil
}

// DefaultFollowUpMonths: long-term follow-up 3, 6 and 12 months after a
// course is completed.
const DefaultFollowUpMonths = "3,6,12"

// ParseMonths reads months as "3,6,12" (distinct, each 1 to 120), or "off".
func ParseMonths(s string) ([]int, error) {
	if strings.TrimSpace(s) == "off" {
		return nil, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		m, err := strconv.Atoi(p)
		if err != nil || m < 1 || m > 120 {
			return nil, fmt.Errorf("months %q: want whole months from 1 to 120, comma separated (or off)", s)
		}
		for _, o := range out {
			if o == m {
				return nil, fmt.Errorf("months %q: %d given twice", s, m)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// FollowUps are a completed course's long-term follow-up reminders, each
// due months after completedAt on the clinic's calendar (loc): the same
// wall-clock time, whatever DST did meanwhile.
func FollowUps(months []int, course, patient uuid.UUID, completedAt time.Time, loc *time.Location) ([]Standalone, error) {
	if course == uuid.Nil || patient == uuid.Nil || completedAt.IsZero() {
		return nil, fmt.Errorf("%w: a follow-up needs a course, a patient and its completion time", ErrInvalidReminder)
	}
	out := make([]Standalone, len(months))
	for i, m := range months {
		out[i] = Standalone{Kind: KindLongTermFollowUp, Subject: course, PatientID: patient, Step: m,
			DueAt: completedAt.In(loc).AddDate(0, m, 0).UTC(), Details: Details{Months: m}}
	}
	return out, nil
}

// DefaultCheckInAt: a check-in's reminder goes out at 09:00 on its day.
const DefaultCheckInAt = 9 * time.Hour

// CheckIn is the reminder of check-in id, the day-th after an infusion,
// due at `at` past midnight of its date (a civil date, as
// checkin.CheckIn.DueDate) on the clinic's calendar: one per check-in.
func CheckIn(id, patient uuid.UUID, day int, date time.Time, at time.Duration, loc *time.Location) (Standalone, error) {
	switch {
	case id == uuid.Nil || patient == uuid.Nil:
		return Standalone{}, fmt.Errorf("%w: a check-in reminder needs the check-in and the patient", ErrInvalidReminder)
	case day < 1 || date.IsZero() || at < 0 || at >= 24*time.Hour:
		return Standalone{}, fmt.Errorf("%w: a check-in reminder needs its day, its date and a time of day", ErrInvalidReminder)
	}
	y, m, d := date.Date()
	due := time.Date(y, m, d, int(at/time.Hour), int(at%time.Hour/time.Minute), 0, 0, loc)
	return Standalone{Kind: KindCheckIn, Subject: id, PatientID: patient, DueAt: due.UTC(), Details: Details{Day: day}}, nil
}

// ParseTimeOfDay reads "09:00" as the time past midnight, or "off" as -1.
func ParseTimeOfDay(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return -1, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("time of day %q: want HH:MM, such as 09:00, or off", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}
