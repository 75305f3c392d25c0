package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/scheduling/internal/app"
)

type withdrawals txRepositories

var _ app.Withdrawals = withdrawals{}

const (
	insertWithdrawal = `INSERT INTO treatment_withdrawals (consent_id, patient_id, program, withdrawn_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (consent_id) DO NOTHING`
	selectWithdrawnSince = `SELECT EXISTS (SELECT 1 FROM treatment_withdrawals WHERE patient_id = $1
		AND (program = $2 OR program = '') AND withdrawn_at >= $3)`
)

// Record keeps a withdrawal; recording one twice changes nothing.
func (r withdrawals) Record(ctx context.Context, consentID, patientID uuid.UUID, program string, at time.Time) error {
	if _, err := r.tx.ExecContext(ctx, insertWithdrawal, consentID, patientID, program, at); err != nil {
		return fmt.Errorf("record withdrawal %s: %w", consentID, err)
	}
	return nil
}

// Since reports whether the patient withdrew a treatment consent for the
// program (or for all programs) at or after t.
func (r withdrawals) Since(ctx context.Context, patientID uuid.UUID, program string, t time.Time) (bool, error) {
	var yes bool
	if err := r.tx.GetContext(ctx, &yes, selectWithdrawnSince, patientID, program, t); err != nil {
		return false, fmt.Errorf("withdrawals of %s: %w", patientID, err)
	}
	return yes, nil
}
