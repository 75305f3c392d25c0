package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/clinicops/clinicops/services/intake/internal/app"
)

// Audit records and lists reads of patient records (app.AuditLog).
type Audit struct{ DB *sqlx.DB }

var _ app.AuditLog = Audit{}

const (
	insertAudit = `INSERT INTO audit_log (at, actor_role, actor_token, action, patient_id, request_id)
		SELECT $1, $2, $3, $4, unnest($5::uuid[]), $6`
	selectAudit = `SELECT id, at, actor_role, actor_token, action, patient_id, request_id FROM audit_log
		WHERE patient_id = $1 AND id > $2 ORDER BY id LIMIT $3`
)

// Record writes one entry per patient read.
func (a Audit) Record(ctx context.Context, at time.Time, role, token, action, requestID string, patients ...uuid.UUID) error {
	if len(patients) == 0 {
		return nil
	}
	ids := make([]string, len(patients))
	for i, p := range patients {
		ids[i] = p.String()
	}
	if _, err := a.DB.ExecContext(ctx, insertAudit, at, role, token, action, pq.Array(ids), requestID); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// List returns a patient's audit entries after the given id, oldest first.
func (a Audit) List(ctx context.Context, patientID uuid.UUID, after int64, limit int) ([]app.AuditEntry, error) {
	var out []app.AuditEntry
	if err := a.DB.SelectContext(ctx, &out, selectAudit, patientID, after, limit); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}
