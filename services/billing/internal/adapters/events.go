package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// writeMoneyEvents publishes the money events of one patient account in
// the transaction, each with the account's next sequence number (taken
// under the account's lock, so an account's numbers are gapless in commit
// order). Domain events become protobuf in one place: toProto.
func writeMoneyEvents[E any](ctx context.Context, r txRepositories, patientID uuid.UUID, events []E) error {
	for _, ev := range events {
		msgs, err := toProto(ev)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			seq, err := Ledger{Tx: r.tx}.NextEventSequence(ctx, patientID)
			if err != nil {
				return err
			}
			m.setSequence(seq)
			if err := r.s.Outbox.Publish(ctx, r.tx, m.aggregate, m.msg); err != nil {
				return err
			}
		}
	}
	return nil
}

// moneyEvent is a wire message waiting for its account sequence.
type moneyEvent struct {
	aggregate   string
	msg         proto.Message
	setSequence func(int64)
}

func pm(m money.Money) *billingv1.Money {
	return &billingv1.Money{Value: m.Amount(), Currency: m.Currency().String()}
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func idOrEmpty(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

// toProto maps a domain event to its wire messages (none for an event that
// stays inside billing: a payment applied to one invoice is announced by
// the payment's PaymentRecorded).
func toProto(ev any) ([]moneyEvent, error) {
	switch e := ev.(type) {
	case invoice.IssuedEvent:
		s := e.Invoice
		lines := make([]*billingv1.Line, len(e.Lines))
		for i, l := range e.Lines {
			lines[i] = &billingv1.Line{Code: l.Code, Description: l.Description, Quantity: l.Quantity, UnitPrice: pm(l.UnitPrice),
				Amount: pm(l.Amount), Tax: pm(l.Tax), TaxRateBp: int32(l.TaxRate)} //nolint:gosec // 0-10000
		}
		m := &billingv1.InvoiceIssued{InvoiceId: s.InvoiceID.String(), Version: s.Version, OccurredAt: ts(s.At),
			PatientId: s.PatientID.String(), Number: s.Number, CourseId: idOrEmpty(s.CourseID), Cycle: int32(s.Cycle), //nolint:gosec // few
			Kind: string(s.Kind), Lines: lines, Total: pm(s.Total), IssueDate: e.IssuedAt.Format(time.DateOnly),
			DueDate: e.DueDate.Format(time.DateOnly)}
		return []moneyEvent{{s.InvoiceID.String(), m, func(n int64) { m.AccountSequence = n }}}, nil
	case invoice.VoidedEvent:
		s := e.Invoice
		m := &billingv1.InvoiceVoided{InvoiceId: s.InvoiceID.String(), Version: s.Version, OccurredAt: ts(s.At),
			PatientId: s.PatientID.String(), Number: s.Number, AmountVoided: pm(e.Amount), Reason: e.Reason}
		return []moneyEvent{{s.InvoiceID.String(), m, func(n int64) { m.AccountSequence = n }}}, nil
	case invoice.OverdueEvent:
		s := e.Invoice
		m := &billingv1.InvoiceOverdue{InvoiceId: s.InvoiceID.String(), Version: s.Version, OccurredAt: ts(s.At),
			PatientId: s.PatientID.String(), Number: s.Number, AmountDue: pm(s.Due),
			DueDate: e.DueDate.Format(time.DateOnly), CourseId: idOrEmpty(s.CourseID)}
		return []moneyEvent{{s.InvoiceID.String(), m, func(n int64) { m.AccountSequence = n }}}, nil
	case invoice.PaidEvent:
		s := e.Invoice
		paid := &billingv1.InvoicePaid{InvoiceId: s.InvoiceID.String(), Version: s.Version, OccurredAt: ts(s.At),
			PatientId: s.PatientID.String(), Number: s.Number, Total: pm(s.Total), CourseId: idOrEmpty(s.CourseID), Kind: string(s.Kind)}
		out := []moneyEvent{{s.InvoiceID.String(), paid, func(n int64) { paid.AccountSequence = n }}}
		// A deposit funds its course only when paid in money: one a credit
		// note took off (a cancelled course) is settled, not paid.
		if s.Kind == invoice.Deposit && s.CourseID != uuid.Nil && s.Paid == s.Total {
			dep := &billingv1.DepositPaid{InvoiceId: s.InvoiceID.String(), Version: s.Version, OccurredAt: ts(s.At),
				PatientId: s.PatientID.String(), Number: s.Number, CourseId: s.CourseID.String(), Amount: pm(s.Total)}
			out = append(out, moneyEvent{s.InvoiceID.String(), dep, func(n int64) { dep.AccountSequence = n }})
		}
		return out, nil
	case invoice.PaymentAppliedEvent:
		return nil, nil
	case invoice.RefundedEvent:
		s := e.Invoice
		m := &billingv1.RefundIssued{RefundId: e.Reference, Version: 1, OccurredAt: ts(s.At), PatientId: s.PatientID.String(),
			InvoiceId: s.InvoiceID.String(), Number: s.Number, Amount: pm(e.Amount), Reason: e.Reason}
		return []moneyEvent{{e.Reference, m, func(n int64) { m.AccountSequence = n }}}, nil
	case invoice.CreditedEvent:
		s, c := e.Invoice, e.Note
		m := &billingv1.CreditNoteIssued{CreditNoteId: c.Reference, Version: 1, OccurredAt: ts(s.At), PatientId: s.PatientID.String(),
			InvoiceId: s.InvoiceID.String(), Number: s.Number, Total: pm(c.Total), ReduceOwed: pm(c.ReduceOwed),
			Refund: pm(c.Refund), ToAccountCredit: pm(c.ToAccountCredit), Reason: c.Reason, CreditNoteNumber: c.Number}
		return []moneyEvent{{c.Reference, m, func(n int64) { m.AccountSequence = n }}}, nil
	case app.Recognition:
		m := &billingv1.RevenueRecognised{InvoiceId: e.InvoiceID.String(), Version: 1, OccurredAt: ts(e.At),
			PatientId: e.PatientID.String(), Number: e.Number, CourseId: e.CourseID.String(), Cycle: int32(e.Cycle), //nolint:gosec // few
			Amount: pm(e.Amount), Kind: e.Kind}
		return []moneyEvent{{e.InvoiceID.String(), m, func(n int64) { m.AccountSequence = n }}}, nil
	case app.Refund:
		m := &billingv1.RefundIssued{RefundId: e.ID.String(), Version: 1, OccurredAt: ts(e.CreatedAt), PatientId: e.PatientID.String(),
			InvoiceId: idOrEmpty(e.InvoiceID), Number: e.Number, Amount: pm(e.Amount), Reason: e.Reason}
		return []moneyEvent{{e.ID.String(), m, func(n int64) { m.AccountSequence = n }}}, nil
	case app.PaymentRecorded:
		p := e.Payment
		allocs := make([]*billingv1.Allocation, len(p.Allocations))
		for i, a := range p.Allocations {
			allocs[i] = &billingv1.Allocation{InvoiceId: a.InvoiceID.String(), Number: a.Number, Amount: pm(a.Amount)}
		}
		m := &billingv1.PaymentRecorded{PaymentId: p.ID.String(), Version: 1, OccurredAt: ts(p.RecordedAt),
			PatientId: p.PatientID.String(), Amount: pm(p.Amount), Method: p.Method, ExternalReference: p.ExternalReference,
			ReceivedAt: ts(p.ReceivedAt), Allocations: allocs, ToAccountCredit: pm(p.ToAccountCredit)}
		return []moneyEvent{{p.ID.String(), m, func(n int64) { m.AccountSequence = n }}}, nil
	}
	return nil, fmt.Errorf("no wire message for domain event %T", ev)
}
