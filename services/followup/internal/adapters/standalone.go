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

const (
	// lockStandaloneKey: the reminder of a key, and whether a send of it
	// is in flight.
	lockStandaloneKey = `SELECT r.reminder_id, r.job_id, r.status,
		EXISTS (SELECT 1 FROM reminder_attempts a WHERE a.reminder_id = r.reminder_id AND a.status = 'sending') AS sending
		FROM reminders r WHERE r.subject_id = $1 AND r.kind = $2 AND r.step = $3 FOR UPDATE OF r`
	// insertClosedKey stores a key cancelled before its reminder exists.
	insertClosedKey = `INSERT INTO reminders (reminder_id, patient_id, kind, subject_id, step, due_at, status, reason,
		job_version, version, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'cancelled', $7, 1, 1, $8)
		ON CONFLICT (subject_id, kind, step) WHERE subject_id IS NOT NULL DO NOTHING`
)

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

// CloseStandalone cancels the key's scheduled reminder (one not being
// sent) and its job, or stores the key cancelled when it has no reminder
// yet. An insert that lost a race to the event scheduling the key finds
// that reminder on its second look, and cancels it.
func (r standaloneTx) CloseStandalone(ctx context.Context, key reminder.Standalone, reason string) error {
	for range 2 {
		var row struct {
			droppable
			Status  string `db:"status"`
			Sending bool   `db:"sending"`
		}
		err := r.tx.GetContext(ctx, &row, lockStandaloneKey, key.Subject, key.Kind, key.Step)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			res, err := r.tx.ExecContext(ctx, insertClosedKey, uuid.New(), key.PatientID, key.Kind, key.Subject, key.Step,
				key.DueAt, reason, r.s.now())
			if err != nil {
				return fmt.Errorf("close %s reminder of %s: %w", key.Kind, key.Subject, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				return err
			}
			continue // scheduled meanwhile by a transaction that committed first
		case err != nil:
			return fmt.Errorf("%s reminder of %s: %w", key.Kind, key.Subject, err)
		case row.Status != string(reminder.Scheduled) || row.Sending:
			return nil // gone out (or going), or ended already
		}
		return visitsTx(r).dropRows(ctx, []droppable{row.droppable}, reason)
	}
	return fmt.Errorf("close %s reminder of %s: the key changed twice while closing it", key.Kind, key.Subject)
}
