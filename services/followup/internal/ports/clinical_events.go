package ports

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// ClinicalRepositories binds the clinical repositories to an event
// handler's transaction (adapters.ClinicalStore.Tx).
type ClinicalRepositories func(tx *sqlx.Tx) app.ClinicalRepositories

// ClinicalEvents registers the clinical half's event handlers.
func ClinicalEvents(p *messaging.Processor, repos ClinicalRepositories, c *app.Clinical) error {
	h := clinicalHandlers{c: c}
	return messaging.Handle(p, "appointment_completed", func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*schedulingv1.AppointmentCompleted]) error {
		return h.OnAppointmentCompleted(ctx, repos(tx), ev)
	})
}

type clinicalHandlers struct{ c *app.Clinical }

// infusionKinds are the appointment kinds that give the patient a product.
var infusionKinds = map[string]bool{"infusion": true, "reinfusion": true}

// OnAppointmentCompleted remembers a completed infusion (who received which
// product) and plans its check-ins; other kinds are not follow-up's
// business here. A redelivered event plans nothing twice (the infusion is
// stored once per appointment).
func (h clinicalHandlers) OnAppointmentCompleted(ctx context.Context, repos app.ClinicalRepositories, ev messaging.Event[*schedulingv1.AppointmentCompleted]) error {
	a := ev.Body.GetAppointment()
	if !infusionKinds[a.GetKind()] {
		return nil
	}
	id, err1 := uuid.Parse(a.GetAppointmentId())
	patientID, err2 := uuid.Parse(a.GetPatientId())
	if err1 != nil || err2 != nil {
		return messaging.Permanent(errors.New("appointment_id and patient_id must be UUIDs"))
	}
	var courseID uuid.UUID
	if s := a.GetCourseId(); s != "" {
		var err error
		if courseID, err = uuid.Parse(s); err != nil {
			return messaging.Permanent(errors.New("course_id is not a UUID"))
		}
	}
	// The infusion ends with its observation (the appointment's end);
	// the fever window runs from there. Without an end, the completion.
	infusedAt := ev.Body.GetOccurredAt().AsTime()
	if a.GetEnd() != nil {
		infusedAt = a.GetEnd().AsTime()
	}
	return h.c.RecordInfusion(ctx, repos, app.Infusion{AppointmentID: id, PatientID: patientID, CourseID: courseID,
		Cycle: int(a.GetCycle()), Program: a.GetProgram(), ProductID: a.GetProductId(), InfusedAt: infusedAt.UTC(),
		Version: ev.Body.GetVersion()})
}
