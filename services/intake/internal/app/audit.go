package app

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// AuditEntry is one read of a patient record: who, when, what. Ids only.
// The JSON names are the audit API's (GET /v1/audit).
type AuditEntry struct {
	ID         int64     `db:"id" json:"id"`
	At         time.Time `db:"at" json:"at"`
	ActorRole  string    `db:"actor_role" json:"actor_role"`
	ActorToken string    `db:"actor_token" json:"actor_token"`
	Action     string    `db:"action" json:"action"`
	PatientID  uuid.UUID `db:"patient_id" json:"patient_id"`
	RequestID  string    `db:"request_id" json:"request_id"`
}

// AuditLog records and lists reads of patient records.
type AuditLog interface {
	// Record writes one entry per patient read; none when patients is empty.
	Record(ctx context.Context, at time.Time, role, token, action, requestID string, patients ...uuid.UUID) error
	// List returns a patient's entries with an id above after, oldest first.
	List(ctx context.Context, patientID uuid.UUID, after int64, limit int) ([]AuditEntry, error)
}
