package adapters

import (
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	followupv1 "github.com/clinicops/clinicops/pkg/events/clinicops/followup/v1"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/adverse"
	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
	"github.com/clinicops/clinicops/services/followup/internal/domain/outcome"
)

// The clinical events on the wire. They carry ids, codes and numbers, never
// a check-in's free text.

func idOrEmpty(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

func checkInRecorded(c checkin.CheckIn) *followupv1.CheckInRecorded {
	symptoms := make([]string, len(c.Answers.Symptoms))
	for i, s := range c.Answers.Symptoms {
		symptoms[i] = string(s)
	}
	return &followupv1.CheckInRecorded{CheckInId: c.ID.String(), Version: c.Version, OccurredAt: timestamppb.New(c.RecordedAt),
		PatientId: c.PatientID.String(), CourseId: idOrEmpty(c.CourseID),
		AppointmentId: c.AppointmentID.String(), ProductId: c.ProductID, Day: int32(c.Day), //nolint:gosec // days, few
		TemperatureDecicelsius: int32(c.Answers.TemperatureDeci), //nolint:gosec // 340-430
		Symptoms:               symptoms, RecordedBy: string(c.Answers.By), Escalated: c.Escalated}
}

func checkInOverdue(c checkin.CheckIn, now time.Time) *followupv1.CheckInOverdue {
	return &followupv1.CheckInOverdue{CheckInId: c.ID.String(), Version: c.Version, OccurredAt: timestamppb.New(now),
		PatientId: c.PatientID.String(), CourseId: idOrEmpty(c.CourseID),
		AppointmentId: c.AppointmentID.String(), Day: int32(c.Day), //nolint:gosec // days, few
		DueDate: c.DueDate.Format(time.DateOnly)}
}

func escalationRaised(e app.Escalation) *followupv1.EscalationRaised {
	return &followupv1.EscalationRaised{EscalationId: e.ID.String(), Version: e.Version, OccurredAt: timestamppb.New(e.RaisedAt),
		PatientId: e.PatientID.String(), CourseId: idOrEmpty(e.CourseID), CheckInId: e.CheckInID.String(),
		ProductId: e.ProductID, Reasons: e.Reasons, SuggestedScale: e.Scale, SuggestedGrade: int32(e.Grade)} //nolint:gosec // 1-5
}

func adverseEventReported(e adverse.Event) *followupv1.AdverseEventReported {
	return &followupv1.AdverseEventReported{AdverseEventId: e.ID.String(), Version: e.Version, OccurredAt: timestamppb.New(e.RecordedAt),
		PatientId: e.PatientID.String(), CourseId: e.CourseID.String(), Term: e.Term, Scale: string(e.Scale),
		Grade: int32(e.Grade), OnsetAt: timestamppb.New(e.OnsetAt), Serious: e.Serious, ProductId: e.ProductID, //nolint:gosec // 1-5
		AppointmentId: idOrEmpty(e.AppointmentID)}
}

func outcomeRecorded(o outcome.Outcome) *followupv1.OutcomeRecorded {
	return &followupv1.OutcomeRecorded{OutcomeId: o.ID.String(), Version: o.Version, OccurredAt: timestamppb.New(o.RecordedAt),
		PatientId: o.PatientID.String(), CourseId: o.CourseID.String(), Cycle: int32(o.Cycle), //nolint:gosec // cycles, few
		Measure: string(o.Score.Measure), ValueMilli: o.Score.ValueMilli, Band: o.Score.Band, MeasuredAt: timestamppb.New(o.MeasuredAt)}
}
