package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The invariants that must hold across the services after a journey,
// checked through their public APIs only: the end-to-end suite and
// `clinicops demo` both run them.

// Check is one invariant and what broke it (nil: it holds).
type Check struct {
	Name string
	Err  error
}

// Invariants checks every invariant for the journey's patient; natsMonitor
// (e.g. http://127.0.0.1:8222, "" to skip) is NATS's monitoring endpoint,
// where the durable consumers and the DLQ are read.
func (d *Driver) Invariants(ctx context.Context, out Outcome, natsMonitor string) []Check {
	checks := []Check{
		{"billing's ledger balances, every account equals its postings", d.ledgerBalances(ctx)},
		{"every culture and infusion is billed exactly once", d.billedOnce(ctx, out)},
		{"no reminder went out for a cancelled or moved visit", d.noReminderForAChangedVisit(ctx, out)},
		{"every future visit has its reminders", d.futureVisitsReminded(ctx, out)},
		{"the course's state agrees across scheduling, billing and follow-up", d.stateAgrees(ctx, out)},
		{"the side path ended as the policy says", d.sidePathEnded(ctx, out)},
	}
	if natsMonitor != "" {
		checks = append(checks, Check{"every durable consumer is caught up and the DLQ is empty", d.caughtUp(ctx, natsMonitor)})
	}
	return checks
}

func (d *Driver) ledgerBalances(ctx context.Context) error {
	c, err := d.LedgerCheck(ctx)
	if err != nil {
		return err
	}
	if !c.OK {
		return fmt.Errorf("violations: %+v", c.Violations)
	}
	return nil
}

// billedOnce: the patient's recognised revenue is the lab fee once per
// culture started plus each given infusion's share once, less what credit
// notes took back from revenue. Anything recognised twice breaks it. (A
// cancellation's settlement moves revenue under the policy's own rules, so
// a cancelled course is checked by sidePathEnded instead.)
func (d *Driver) billedOnce(ctx context.Context, out Outcome) error {
	if out.Ended == "cancelled" {
		return nil
	}
	pl, err := d.PriceList(ctx, JourneyProgram, out.ProtocolVersion, out.PricedOn)
	if err != nil {
		return err
	}
	want := pl.LabFee.Value * int64(len(out.Cultures))
	for _, n := range out.InfusedCycles {
		want += CycleShare(pl, out.Cycles, n).Value
	}
	notes, err := d.CreditNotes(ctx, out.Patient.CourseID)
	if err != nil {
		return err
	}
	for _, n := range notes {
		want -= n.FromRevenue.Value
	}
	var seen Money
	err = d.WaitFor(ctx, "billing's revenue settles", func(ctx context.Context) (bool, error) {
		a, err := d.Account(ctx, out.Patient.ID)
		if err != nil {
			return false, err
		}
		seen = a.Balance.Revenue
		return seen.Value == want, nil
	})
	if err != nil {
		return fmt.Errorf("revenue %s, want %d minor units (lab fee x %d cultures + the shares of cycles %v - credit notes): %w",
			seen, want, len(out.Cultures), out.InfusedCycles, err)
	}
	return nil
}

// CycleShare is billing's rule for what an infusion earns: the course price
// split evenly over the course's cycles (the minor units left over to the
// earliest cycles), less the lab fee the culture earned.
func CycleShare(pl PriceList, cycles, cycle int) Money {
	n := int64(cycles)
	share := pl.CoursePrice.Value / n
	if int64(cycle) <= pl.CoursePrice.Value%n {
		share++
	}
	return Money{Value: max(share-pl.LabFee.Value, 0), Currency: pl.Currency}
}

// noReminderForAChangedVisit: a reminder that went out did so for the
// visit as it stood then: not cancelled before, and at the start it named.
func (d *Driver) noReminderForAChangedVisit(ctx context.Context, out Outcome) error {
	rs, err := d.Reminders(ctx, out.Patient.ID)
	if err != nil {
		return err
	}
	timeline, err := d.Timeline(ctx, out.Patient.CourseID)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rs {
		if r.Status != "sent" || r.AppointmentID == nil || r.SentAt == nil || r.VisitStart == nil {
			continue
		}
		var start *time.Time
		for _, e := range timeline {
			if e.AppointmentID == nil || *e.AppointmentID != *r.AppointmentID || e.At.After(*r.SentAt) {
				continue
			}
			switch e.Event {
			case "booked", "rescheduled":
				start = e.StartsAt
			case "appointment_cancelled":
				errs = append(errs, fmt.Errorf("reminder %s (%s) sent at %s for visit %s cancelled at %s",
					r.ID, r.Kind, r.SentAt.Format(time.RFC3339), *r.AppointmentID, e.At.Format(time.RFC3339)))
			}
		}
		if start != nil && !start.Equal(*r.VisitStart) {
			errs = append(errs, fmt.Errorf("reminder %s (%s) sent for a visit at %s, which had moved to %s",
				r.ID, r.Kind, r.VisitStart.Format(time.RFC3339), start.Format(time.RFC3339)))
		}
	}
	return errors.Join(errs...)
}

// futureVisitsReminded: every booked visit more than a day ahead has a
// scheduled reminder for its start (the culture is the lab's, no visit).
func (d *Driver) futureVisitsReminded(ctx context.Context, out Outcome) error {
	now, err := d.now(ctx)
	if err != nil {
		return err
	}
	appts, err := d.Appointments(ctx, out.Patient.CourseID)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range appts {
		if a.Status != "booked" || a.Kind == "culture" || !a.Start.After(now.Add(24*time.Hour)) {
			continue
		}
		err := d.WaitFor(ctx, "follow-up has the "+a.Kind+"'s reminders", func(ctx context.Context) (bool, error) {
			rs, err := d.Reminders(ctx, out.Patient.ID)
			return slices.ContainsFunc(rs, func(r Reminder) bool {
				return r.Status == "scheduled" && r.AppointmentID != nil && *r.AppointmentID == a.ID && r.VisitStart != nil && r.VisitStart.Equal(a.Start)
			}), err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("the %s at %s: %w", a.Kind, a.Start.Format(time.RFC3339), err))
		}
	}
	return errors.Join(errs...)
}

// stateAgrees: scheduling's course status is the path's end; the course is
// funded in scheduling exactly when billing's deposit is paid; a course
// that ended has no visit reminder left to go out in follow-up.
func (d *Driver) stateAgrees(ctx context.Context, out Outcome) error {
	c, err := d.Course(ctx, out.Patient.CourseID)
	if err != nil {
		return err
	}
	var errs []error
	if out.Ended != "" && c.Status != out.Ended {
		errs = append(errs, fmt.Errorf("scheduling: course %s, want %s", c.Status, out.Ended))
	}
	invs, err := d.Invoices(ctx, out.Patient.CourseID)
	if err != nil {
		return err
	}
	if deposit, ok := Deposit(invs); ok && (deposit.Paid.Value > 0) != (c.FundedAt != nil) {
		errs = append(errs, fmt.Errorf("billing's deposit paid %s, scheduling funded %v", deposit.Paid, c.FundedAt != nil))
	}
	if out.Ended != "" {
		err := d.WaitFor(ctx, "follow-up drops the ended course's visit reminders", func(ctx context.Context) (bool, error) {
			rs, err := d.Reminders(ctx, out.Patient.ID)
			return !slices.ContainsFunc(rs, func(r Reminder) bool { return r.Status == "scheduled" && r.AppointmentID != nil }), err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("follow-up: %w", err))
		}
	}
	return errors.Join(errs...)
}

// sidePathEnded: a cancellation is settled by credit notes (nothing left
// owed or deferred: each unit kept, refunded or credited) and cancels every
// appointment ahead, with the infusion's safety check-ins kept; a failed
// culture is credited and its cycle booked again.
func (d *Driver) sidePathEnded(ctx context.Context, out Outcome) error {
	notes, err := d.CreditNotes(ctx, out.Patient.CourseID)
	if err != nil {
		return err
	}
	has := func(prefix string) bool {
		return slices.ContainsFunc(notes, func(n CreditNote) bool { return strings.HasPrefix(n.Reason, prefix) })
	}
	var errs []error
	if len(out.Failed) > 0 && !has("product_failed:") {
		errs = append(errs, errors.New("billing credited no failed product"))
	}
	if out.Ended == "cancelled" {
		if !has("course_cancelled") {
			errs = append(errs, errors.New("billing settled no cancellation"))
		}
		// Settled: every unit of the course's price is earned (kept under
		// the policy), refunded or credited; nothing is owed or deferred.
		var seen Balance
		if err := d.WaitFor(ctx, "billing settles every unit of the cancelled course", func(ctx context.Context) (bool, error) {
			a, err := d.Account(ctx, out.Patient.ID)
			seen = a.Balance
			return err == nil && a.Balance.Owed.Value == 0 && a.Balance.Deferred.Value == 0, err
		}); err != nil {
			errs = append(errs, fmt.Errorf("after the cancellation %s is owed and %s deferred: %w", seen.Owed, seen.Deferred, err))
		}
		appts, err := d.Appointments(ctx, out.Patient.CourseID)
		if err != nil {
			return err
		}
		now, err := d.now(ctx)
		if err != nil {
			return err
		}
		for _, a := range appts {
			// What was ahead is cancelled; a culture that had started stays
			// on record as booked (scheduling's rule: the lab's slot was used).
			if a.Start.After(now) && (a.Status == "booked" || a.Status == "checked_in") {
				errs = append(errs, fmt.Errorf("the %s at %s is still %s", a.Kind, a.Start.Format(time.RFC3339), a.Status))
			}
		}
		checkIns, err := d.CheckIns(ctx, out.Patient.ID)
		if err != nil {
			return err
		}
		if len(checkIns) != 5*len(out.InfusedCycles) {
			errs = append(errs, fmt.Errorf("%d safety check-ins, want %d (5 per infusion)", len(checkIns), 5*len(out.InfusedCycles)))
		}
	}
	return errors.Join(errs...)
}

// caughtUp waits until every durable consumer has nothing pending or
// unacknowledged, then requires the DLQ to hold nothing.
func (d *Driver) caughtUp(ctx context.Context, monitor string) error {
	var dlq uint64
	err := d.WaitFor(ctx, "every durable consumer catches up", func(ctx context.Context) (bool, error) {
		var jsz struct {
			Accounts []struct {
				Streams []struct {
					Name  string `json:"name"`
					State struct {
						Messages uint64 `json:"messages"`
					} `json:"state"`
					Consumers []struct {
						Name          string `json:"name"`
						NumPending    uint64 `json:"num_pending"`
						NumAckPending int    `json:"num_ack_pending"`
					} `json:"consumer_detail"`
				} `json:"stream_detail"`
			} `json:"account_details"`
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, monitor+"/jsz?accounts=true&streams=true&consumers=true", nil)
		if err != nil {
			return false, err
		}
		resp, err := d.client().Do(req)
		if err != nil {
			return false, err
		}
		defer func() { _ = resp.Body.Close() }()
		if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
			return false, fmt.Errorf("NATS monitoring: %w", err)
		}
		dlq = 0
		for _, a := range jsz.Accounts {
			for _, s := range a.Streams {
				if s.Name == "DLQ" {
					dlq = s.State.Messages
				}
				for _, c := range s.Consumers {
					if c.NumPending > 0 || c.NumAckPending > 0 {
						return false, nil
					}
				}
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if dlq > 0 {
		return fmt.Errorf("%d messages in the DLQ (clinicops dlq lists them)", dlq)
	}
	return nil
}
