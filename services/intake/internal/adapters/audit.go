package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// AuditEntry is one read of a patient record: who, when, what. Ids only.
type AuditEntry struct {
	ID         int64     `db:"id" json:"id"`
	At         time.Time `db:"at" json:"at"`
	ActorRole  string    `db:"actor_role" json:"actor_role"`
	ActorToken string    `db:"actor_token" json:"actor_token"`
	Action     string    `db:"action" json:"action"`
	PatientID  uuid.UUID `db:"patient_id" json:"patient_id"`
	RequestID  string    `db:"request_id" json:"request_id"`
}

// Audit records and lists reads of patient records.
type Audit struct{ DB *sqlx.DB }

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
func (a Audit) List(ctx context.Context, patientID uuid.UUID, after int64, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	if err := a.DB.SelectContext(ctx, &out, selectAudit, patientID, after, limit); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}
