package ports

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

type attemptResponse struct {
	Attempt    int        `json:"attempt"`
	Channel    string     `json:"channel"`
	Outcome    string     `json:"outcome"`
	Error      *string    `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

type reminderResponse struct {
	ID            string            `json:"id"`
	PatientID     string            `json:"patient_id"`
	AppointmentID *string           `json:"appointment_id"`
	Kind          string            `json:"kind"`
	Channel       *string           `json:"channel"`
	DueAt         time.Time         `json:"due_at"`
	VisitStart    *time.Time        `json:"visit_start"`
	Status        string            `json:"status"`
	Reason        *string           `json:"reason,omitempty"`
	SentAt        *time.Time        `json:"sent_at,omitempty"`
	Attempts      []attemptResponse `json:"attempts"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// optionalID is null for no id (a reminder of no visit: a payment, a
// long-term follow-up; a check-in of no course).
func optionalID(id uuid.UUID) *string {
	if id == uuid.Nil {
		return nil
	}
	s := id.String()
	return &s
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (h HTTP) listReminders(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckQueryNames(q, "patient_id", "appointment_id", "status"); err != nil {
		return err
	}
	var f app.ReminderFilter
	var fields []httpx.FieldError
	for name, into := range map[string]*uuid.UUID{"patient_id": &f.PatientID, "appointment_id": &f.AppointmentID} {
		if v := q.Get(name); v != "" {
			id, err := uuid.Parse(v)
			if err != nil {
				fields = append(fields, httpx.FieldError{Field: name, Message: "must be a UUID"})
			}
			*into = id
		}
	}
	if v := q.Get("status"); v != "" {
		st, err := reminder.ParseStatus(v)
		if err != nil {
			fields = append(fields, httpx.FieldError{Field: "status", Message: "is not a reminder status"})
		}
		f.Status = st
	}
	if f.PatientID == uuid.Nil && f.AppointmentID == uuid.Nil && len(fields) == 0 {
		fields = append(fields, httpx.FieldError{Field: "patient_id", Message: "patient_id or appointment_id is required"})
	}
	if len(fields) > 0 {
		return httpx.BadRequest("the query is not valid", fields...)
	}
	list, err := h.Reminders.List(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]reminderResponse, len(list))
	for i, v := range list {
		items[i] = reminderResponse{ID: v.ID.String(), PatientID: v.PatientID.String(), AppointmentID: optionalID(v.AppointmentID),
			Kind: v.Kind, Channel: optional(v.Channel), DueAt: v.DueAt, VisitStart: optionalTime(v.VisitStart), Status: v.Status,
			Reason: optional(v.Reason), SentAt: v.SentAt, Attempts: make([]attemptResponse, len(v.Attempts))}
		for j, a := range v.Attempts {
			items[i].Attempts[j] = attemptResponse{Attempt: a.Attempt, Channel: a.Channel, Outcome: a.Outcome,
				Error: optional(a.Error), StartedAt: a.StartedAt, FinishedAt: a.FinishedAt}
		}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}
