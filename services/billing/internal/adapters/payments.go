package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/billing/internal/app"
)

type payments txRepositories

var _ app.Payments = payments{}

const insertPayment = `INSERT INTO payments (id, patient_id, amount, currency, method, external_reference, received_at,
	allocations, to_account_credit, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

type allocationJSON struct {
	InvoiceID string `json:"invoice_id"`
	Number    string `json:"number"`
	Amount    int64  `json:"amount"`
}

// Add stores the payment and publishes PaymentRecorded; an external
// reference recorded before is app.ErrDuplicatePayment.
func (r payments) Add(ctx context.Context, p app.Payment) error {
	allocs := make([]allocationJSON, len(p.Allocations))
	for i, a := range p.Allocations {
		allocs[i] = allocationJSON{InvoiceID: a.InvoiceID.String(), Number: a.Number, Amount: a.Amount.Amount()}
	}
	b, err := json.Marshal(allocs)
	if err != nil {
		return err
	}
	if _, err := r.tx.ExecContext(ctx, insertPayment, p.ID, p.PatientID, p.Amount.Amount(), p.Amount.Currency().String(),
		p.Method, p.ExternalReference, p.ReceivedAt, b, p.ToAccountCredit.Amount(), p.RecordedAt); err != nil {
		if errors.Is(pgdb.MapError(err), pgdb.ErrUniqueViolation) {
			return app.ErrDuplicatePayment
		}
		return fmt.Errorf("store payment %s: %w", p.ID, err)
	}
	return writeMoneyEvents(ctx, txRepositories(r), p.PatientID, []app.PaymentRecorded{{Payment: p}})
}
