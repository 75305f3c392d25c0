package ports

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// SchedulingEvents registers the handlers of scheduling's events that make
// follow-up's visits, course states and reminders.
func SchedulingEvents(p *messaging.Processor, repos Repositories, h app.Reminders) error {
	return errors.Join(
		handle(p, "appointment_booked", repos, func(ctx context.Context, r app.Repositories, ev messaging.Event[*schedulingv1.AppointmentBooked]) error {
			return booked(ctx, h, r, ev.Body.GetAppointment(), ev.Body.GetVersion(), ev.Body.GetOccurredAt().AsTime())
		}),
		handle(p, "appointment_rescheduled", repos, func(ctx context.Context, r app.Repositories, ev messaging.Event[*schedulingv1.AppointmentRescheduled]) error {
			return booked(ctx, h, r, ev.Body.GetAppointment(), ev.Body.GetVersion(), ev.Body.GetOccurredAt().AsTime())
		}),
		handle(p, "appointment_cancelled", repos, OnAppointmentCancelled(h)),
		handle(p, "course_on_hold", repos, func(ctx context.Context, r app.Repositories, ev messaging.Event[*schedulingv1.CourseOnHold]) error {
			return course(ctx, h, r, ev.Body.GetCourseId(), reminder.CourseOnHold, ev.Body.GetVersion(), ev.Body.GetOccurredAt())
		}),
		handle(p, "course_resumed", repos, func(ctx context.Context, r app.Repositories, ev messaging.Event[*schedulingv1.CourseResumed]) error {
			return course(ctx, h, r, ev.Body.GetCourseId(), reminder.CourseActive, ev.Body.GetVersion(), ev.Body.GetOccurredAt())
		}),
		handle(p, "course_cancelled", repos, func(ctx context.Context, r app.Repositories, ev messaging.Event[*schedulingv1.CourseCancelled]) error {
			return course(ctx, h, r, ev.Body.GetCourseId(), reminder.CourseCancelled, ev.Body.GetVersion(), ev.Body.GetOccurredAt())
		}),
	)
}

// OnAppointmentCancelled drops the visit's reminders (cancelled, or
// suspended while its course is on hold).
func OnAppointmentCancelled(h app.Reminders) func(context.Context, app.Repositories, messaging.Event[*schedulingv1.AppointmentCancelled]) error {
	return func(ctx context.Context, r app.Repositories, ev messaging.Event[*schedulingv1.AppointmentCancelled]) error {
		v, err := toVisit(ev.Body.GetAppointment(), ev.Body.GetVersion())
		if err != nil {
			return err
		}
		v.UpdatedAt = ev.Body.GetOccurredAt().AsTime()
		return permanentIfInvalid(h.VisitCancelled(ctx, r, v))
	}
}

func booked(ctx context.Context, h app.Reminders, r app.Repositories, a *schedulingv1.Appointment, version int64, at time.Time) error {
	v, err := toVisit(a, version)
	if err != nil {
		return err
	}
	v.Status, v.UpdatedAt = reminder.VisitBooked, at
	return permanentIfInvalid(h.VisitBooked(ctx, r, v, at))
}

func course(ctx context.Context, h app.Reminders, r app.Repositories, courseID, status string, version int64, at *timestamppb.Timestamp) error {
	id, err := uuid.Parse(courseID)
	if err != nil || version < 1 {
		return messaging.Permanent(errors.New("course_id is not a UUID or version missing"))
	}
	return h.CourseChanged(ctx, r, id, status, version, at.AsTime())
}

func toVisit(a *schedulingv1.Appointment, version int64) (reminder.Visit, error) {
	id, err1 := uuid.Parse(a.GetAppointmentId())
	patient, err2 := uuid.Parse(a.GetPatientId())
	if err1 != nil || err2 != nil {
		return reminder.Visit{}, messaging.Permanent(errors.New("appointment_id or patient_id is not a UUID"))
	}
	var course uuid.UUID
	if a.GetCourseId() != "" {
		if course, err1 = uuid.Parse(a.GetCourseId()); err1 != nil {
			return reminder.Visit{}, messaging.Permanent(errors.New("course_id is not a UUID"))
		}
	}
	return reminder.Visit{AppointmentID: id, PatientID: patient, CourseID: course, Kind: a.GetKind(), Cycle: int(a.GetCycle()),
		Start: a.GetStart().AsTime(), End: a.GetEnd().AsTime(), PatientPresent: a.GetPatientPresent(), Version: version}, nil
}

func permanentIfInvalid(err error) error {
	if errors.Is(err, reminder.ErrInvalidVisit) {
		return messaging.Permanent(err)
	}
	return err
}
