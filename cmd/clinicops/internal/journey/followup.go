package journey

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// ---- follow-up ---------------------------------------------------------------

// CheckIn is a post-infusion check-in as follow-up shows it.
type CheckIn struct {
	ID        string `json:"id"`
	PatientID string `json:"patient_id"`
	ProductID string `json:"product_id"`
	Day       int    `json:"day"`
	DueDate   string `json:"due_date"`
	Status    string `json:"status"`
	Escalated bool   `json:"escalated"`
}

// AdverseEvent is an adverse event as follow-up recorded it.
type AdverseEvent struct {
	ID       string `json:"id"`
	Scale    string `json:"scale"`
	Grade    int    `json:"grade"`
	Reported bool   `json:"reported"`
}

// NewAdverseEvent is what the clinician records.
type NewAdverseEvent struct {
	PatientID     string    `json:"patient_id"`
	CourseID      string    `json:"course_id"`
	Term          string    `json:"term"`
	Scale         string    `json:"scale"`
	Grade         int       `json:"grade"`
	OnsetAt       time.Time `json:"onset_at"`
	Serious       bool      `json:"serious"`
	ProductID     string    `json:"product_id,omitempty"`
	AppointmentID string    `json:"appointment_id,omitempty"`
}

// CheckIns lists the patient's check-ins (nurse).
func (d *Driver) CheckIns(ctx context.Context, patientID string) ([]CheckIn, error) {
	var list struct {
		Items []CheckIn `json:"items"`
	}
	if err := d.call(ctx, httpx.RoleNurse, http.MethodGet, d.Followup+"/v1/check-ins?patient_id="+url.QueryEscape(patientID), nil, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// WaitCheckIns waits until follow-up has planned the patient's check-ins.
func (d *Driver) WaitCheckIns(ctx context.Context, patientID string) ([]CheckIn, error) {
	var seen []CheckIn
	err := d.WaitFor(ctx, "follow-up plans the check-ins after the infusion", func(ctx context.Context) (bool, error) {
		var err error
		seen, err = d.CheckIns(ctx, patientID)
		return err == nil && len(seen) > 0, err
	})
	return seen, err
}

// ReportAdverseEvent records an adverse event (clinician), under an
// idempotency key.
func (d *Driver) ReportAdverseEvent(ctx context.Context, ae NewAdverseEvent) (AdverseEvent, error) {
	var out AdverseEvent
	if err := d.call(ctx, httpx.RoleClinician, http.MethodPost, d.Followup+"/v1/adverse-events", ae, &out,
		"Idempotency-Key", d.key("adverse-event")); err != nil {
		return AdverseEvent{}, fmt.Errorf("report the adverse event: %w", err)
	}
	return out, nil
}

// Recipients lists the patients who received the product (clinician).
func (d *Driver) Recipients(ctx context.Context, din string) ([]string, error) {
	var list struct {
		Items []struct {
			PatientID string `json:"patient_id"`
		} `json:"items"`
	}
	if err := d.call(ctx, httpx.RoleClinician, http.MethodGet, d.Followup+"/v1/products/"+url.PathEscape(din)+"/recipients", nil, &list); err != nil {
		return nil, err
	}
	out := make([]string, len(list.Items))
	for i, it := range list.Items {
		out[i] = it.PatientID
	}
	return out, nil
}

// Reminder is a reminder as follow-up shows it.
type Reminder struct {
	ID            string    `json:"id"`
	AppointmentID *string   `json:"appointment_id"`
	Kind          string    `json:"kind"`
	Channel       *string   `json:"channel"`
	DueAt         time.Time `json:"due_at"`
	Status        string    `json:"status"`
	// Reason says why a reminder was skipped or cancelled.
	Reason *string `json:"reason"`
	// VisitStart is the visit's start the reminder is for (nil for a
	// reminder of no visit); SentAt when it went out.
	VisitStart *time.Time `json:"visit_start"`
	SentAt     *time.Time `json:"sent_at"`
}

// ConsentToSMS records the patient's consent to be reached by SMS (front
// desk, intake): without a contact consent no reminder is sent.
func (d *Driver) ConsentToSMS(ctx context.Context, patientID string) error {
	now, err := d.now(ctx)
	if err != nil {
		return err
	}
	c := map[string]any{"kind": "contact_sms", "form_version": "SMS-2026.1", "signed_at": now.Add(-time.Minute).Format(time.RFC3339),
		"signed_by": "patient"}
	return d.call(ctx, httpx.RoleFrontDesk, http.MethodPost, d.Intake+"/v1/patients/"+patientID+"/consents", c, nil,
		"Idempotency-Key", d.key("consent"))
}

// Reminders lists the patient's reminders (front desk).
func (d *Driver) Reminders(ctx context.Context, patientID string) ([]Reminder, error) {
	var list struct {
		Items []Reminder `json:"items"`
	}
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodGet, d.Followup+"/v1/reminders?patient_id="+url.QueryEscape(patientID), nil, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// WaitReminders waits until the patient's reminders satisfy cond.
func (d *Driver) WaitReminders(ctx context.Context, what, patientID string, cond func([]Reminder) bool) ([]Reminder, error) {
	var seen []Reminder
	err := d.WaitFor(ctx, what, func(ctx context.Context) (bool, error) {
		rs, err := d.Reminders(ctx, patientID)
		if err != nil {
			return false, err
		}
		seen = rs
		return cond(rs), nil
	})
	return seen, err
}

// AdvanceTo moves the clock forward to t (never back).
func (d *Driver) AdvanceTo(ctx context.Context, t time.Time) error {
	_, err := d.advanceTo(ctx, t)
	return err
}
