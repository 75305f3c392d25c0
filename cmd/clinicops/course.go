package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/cmd/clinicops/internal/journey"
)

// runCourse prints a course's whole story by asking each service's API
// (never a database): scheduling's timeline, billing's invoices and credit
// notes and the patient's account, follow-up's reminders and check-ins,
// merged in time order.
func runCourse(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("course", flag.ContinueOnError)
	dataDir := fs.String("data-dir", ".data", "the data directory of the running `clinicops dev` (its dev-tokens.env)")
	host := fs.String("host", "127.0.0.1", "where `clinicops dev` listens")
	basePort := fs.Int("base-port", 8081, "intake's port; scheduling, billing and followup take the next three")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: clinicops course [flags] <course id>")
	}
	id, err := uuid.Parse(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("%q is not a course id (a UUID)", fs.Arg(0))
	}
	d, err := devDriver(*dataDir, *host, *basePort)
	if err != nil {
		return err
	}
	return printCourse(ctx, d, id.String(), out)
}

// storyLine is one line of the story: when, which service, what.
type storyLine struct {
	at      time.Time
	service string
	what    string
}

func printCourse(ctx context.Context, d *journey.Driver, courseID string, out io.Writer) error {
	c, err := d.Course(ctx, courseID)
	if err != nil {
		return err
	}
	printf(out, "course %s: %s, protocol %s, patient %s, %d cycles, %s\n", c.ID, c.Program, c.ProtocolVersion, c.PatientID,
		len(c.Cycles), c.Status)
	var story []storyLine
	timeline, err := d.Timeline(ctx, courseID)
	if err != nil {
		return err
	}
	for _, e := range timeline {
		what := e.Event
		if e.Kind != nil {
			what += " " + *e.Kind
		}
		if e.Cycle != nil {
			what += fmt.Sprintf(" (cycle %d)", *e.Cycle)
		}
		if e.StartsAt != nil {
			what += " at " + e.StartsAt.Format(time.RFC3339)
		}
		if e.ProductID != nil {
			what += " product " + *e.ProductID
		}
		if e.Reason != nil {
			what += ": " + *e.Reason
		}
		story = append(story, storyLine{e.At, "scheduling", what})
	}
	invs, err := d.Invoices(ctx, courseID)
	if err != nil {
		return err
	}
	notes, err := d.CreditNotes(ctx, courseID)
	if err != nil {
		return err
	}
	rs, err := d.Reminders(ctx, c.PatientID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		at, what := r.DueAt, fmt.Sprintf("reminder %s due: %s", r.Kind, r.Status)
		if r.SentAt != nil {
			at, what = *r.SentAt, fmt.Sprintf("reminder %s sent", r.Kind)
		}
		if r.Reason != nil {
			what += " (" + *r.Reason + ")"
		}
		story = append(story, storyLine{at, "followup", what})
	}
	sort.SliceStable(story, func(i, j int) bool { return story[i].at.Before(story[j].at) })
	for _, l := range story {
		printf(out, "  %s  %-10s  %s\n", l.at.Format("2006-01-02 15:04:05Z07:00"), l.service, l.what)
	}
	printf(out, "billing:\n")
	for _, inv := range invs {
		number := "(draft)"
		if inv.Number != nil {
			number = *inv.Number
		}
		printf(out, "  invoice %s %-8s cycle %d  total %s  paid %s  credited %s  refunded %s  due %s  %s\n", number, inv.Kind,
			inv.Cycle, inv.Total, inv.Paid, inv.Credited, inv.Refunded, inv.AmountDue, inv.Status)
	}
	for _, n := range notes {
		printf(out, "  credit note %s on %s: %s (refund %s, to account credit %s): %s\n", n.Number, n.InvoiceNumber, n.Total,
			n.Refund, n.ToAccountCredit, n.Reason)
	}
	if a, err := d.Account(ctx, c.PatientID); err == nil {
		b := a.Balance
		printf(out, "  account: owed %s, paid in %s, refunded %s, revenue %s, deferred %s, account credit %s\n",
			b.Owed, b.PaidIn, b.Refunded, b.Revenue, b.Deferred, b.AccountCredit)
	}
	checkIns, err := d.CheckIns(ctx, c.PatientID)
	if err != nil {
		return err
	}
	printf(out, "follow-up check-ins:\n")
	for _, ci := range checkIns {
		printf(out, "  day %-2d (%s) product %s: %s%s\n", ci.Day, ci.DueDate, ci.ProductID, ci.Status, map[bool]string{true: ", escalated"}[ci.Escalated])
	}
	return nil
}
