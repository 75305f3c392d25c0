package adapters

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// Reminders reads reminders and their attempts (app.ReminderReader).
type Reminders struct{ DB *sqlx.DB }

var _ app.ReminderReader = Reminders{}

const (
	listReminders = `SELECT ` + reminderColumns + ` FROM reminders
		WHERE ($1::uuid IS NULL OR patient_id = $1) AND ($2::uuid IS NULL OR appointment_id = $2)
		  AND ($3 = '' OR status = $3)
		ORDER BY due_at, kind LIMIT 1000`
	listAttempts = `SELECT reminder_id, attempt, channel, route, status, error, visit_version, started_at, finished_at
		FROM reminder_attempts WHERE reminder_id = ANY($1) ORDER BY reminder_id, attempt`
)

// List returns the reminders matching the filter, each with its attempts.
func (q Reminders) List(ctx context.Context, f app.ReminderFilter) ([]app.ReminderView, error) {
	var rows []reminderRow
	if err := q.DB.SelectContext(ctx, &rows, listReminders, nullUUID(f.PatientID), nullUUID(f.AppointmentID), string(f.Status)); err != nil {
		return nil, fmt.Errorf("list reminders: %w", err)
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ReminderID
	}
	var attempts []attemptRow
	if len(ids) > 0 {
		if err := q.DB.SelectContext(ctx, &attempts, listAttempts, uuidArray(ids)); err != nil {
			return nil, fmt.Errorf("list attempts: %w", err)
		}
	}
	byID := map[uuid.UUID][]app.AttemptView{}
	for _, a := range attempts {
		v := app.AttemptView{Attempt: a.Attempt, Channel: a.Channel, Outcome: a.Status, Error: a.Error.String, StartedAt: a.StartedAt.UTC()}
		if a.FinishedAt.Valid {
			t := a.FinishedAt.Time.UTC()
			v.FinishedAt = &t
		}
		byID[a.ReminderID] = append(byID[a.ReminderID], v)
	}
	out := make([]app.ReminderView, len(rows))
	for i, r := range rows {
		out[i] = app.ReminderView{ID: r.ReminderID, PatientID: r.PatientID, AppointmentID: r.AppointmentID.UUID, Kind: r.Kind,
			Channel: r.Channel.String, DueAt: r.DueAt.UTC(), VisitStart: r.OccurrenceStart.Time.UTC(), Status: r.Status,
			Reason: r.Reason.String, Attempts: byID[r.ReminderID]}
		if r.SentAt.Valid {
			t := r.SentAt.Time.UTC()
			out[i].SentAt = &t
		}
	}
	return out, nil
}

func nullUUID(id uuid.UUID) uuid.NullUUID { return uuid.NullUUID{UUID: id, Valid: id != uuid.Nil} }
