package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// detailsRow is reminders.details: what a reminder of no visit names.
type detailsRow struct {
	InvoiceNumber string `json:"invoice_number,omitempty"`
	AmountMinor   int64  `json:"amount_minor,omitempty"`
	Currency      string `json:"currency,omitempty"`
	Months        int    `json:"months,omitempty"`
	Day           int    `json:"day,omitempty"`
}

func toDBDetails(d reminder.Details) ([]byte, error) {
	return json.Marshal(detailsRow{InvoiceNumber: d.InvoiceNumber, AmountMinor: d.AmountDue.Minor,
		Currency: d.AmountDue.Currency, Months: d.Months, Day: d.Day})
}

func toDomainDetails(b []byte) (reminder.Details, error) {
	var r detailsRow
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r); err != nil {
			return reminder.Details{}, fmt.Errorf("reminder details: %w", err)
		}
	}
	return reminder.Details{InvoiceNumber: r.InvoiceNumber, AmountDue: reminder.Money{Minor: r.AmountMinor, Currency: r.Currency},
		Months: r.Months, Day: r.Day}, nil
}

// insertStandalone inserts a reminder of no visit unless its key (subject,
// kind, step) exists; it returns nothing for an existing one.
const insertStandalone = `INSERT INTO reminders (reminder_id, patient_id, kind, subject_id, step, details, due_at,
		status, job_version, version, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, 'scheduled', 1, 1, $8)
	ON CONFLICT (subject_id, kind, step) WHERE subject_id IS NOT NULL DO NOTHING
	RETURNING reminder_id, job_version`

// Standalone returns the writer of reminders about no visit bound to tx,
// an event handler's transaction.
func (s *Store) Standalone(tx *sqlx.Tx) app.StandaloneWriter { return standaloneTx{tx: tx, s: s} }

type standaloneTx txRepositories

// ScheduleStandalone inserts each reminder and its job, once per key.
func (r standaloneTx) ScheduleStandalone(ctx context.Context, rs []reminder.Standalone) error {
	for _, st := range rs {
		details, err := toDBDetails(st.Details)
		if err != nil {
			return err
		}
		var got struct {
			ReminderID uuid.UUID `db:"reminder_id"`
			JobVersion int64     `db:"job_version"`
		}
		err = r.tx.GetContext(ctx, &got, insertStandalone, uuid.New(), st.PatientID, st.Kind, st.Subject, st.Step,
			details, st.DueAt, r.s.now())
		if errors.Is(err, sql.ErrNoRows) {
			continue // scheduled before: a repeated event
		}
		if err != nil {
			return fmt.Errorf("schedule %s reminder of %s: %w", st.Kind, st.Subject, err)
		}
		if err := txRepositories(r).enqueue(ctx, got.ReminderID, got.JobVersion, st.DueAt); err != nil {
			return err
		}
	}
	return nil
}
