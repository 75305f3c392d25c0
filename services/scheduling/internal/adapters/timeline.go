package adapters

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/proto"

	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
)

// timelineRow is one line of a course's timeline.
type timelineRow struct {
	CourseID      uuid.UUID      `db:"course_id"`
	At            time.Time      `db:"at"`
	Event         string         `db:"event"`
	AppointmentID uuid.NullUUID  `db:"appointment_id"`
	Kind          sql.NullString `db:"kind"`
	Cycle         sql.NullInt32  `db:"cycle"`
	StartsAt      sql.NullTime   `db:"starts_at"`
	ProductID     sql.NullString `db:"product_id"`
	Reason        sql.NullString `db:"reason"`
}

const (
	insertTimeline = `INSERT INTO course_timeline (course_id, at, event, appointment_id, kind, cycle, starts_at, product_id, reason)
		VALUES (:course_id, :at, :event, :appointment_id, :kind, :cycle, :starts_at, :product_id, :reason)`
	selectTimeline = `SELECT course_id, at, event, appointment_id, kind, cycle, starts_at, product_id, reason
		FROM course_timeline WHERE course_id = $1 ORDER BY seq`
)

func addToTimeline(ctx context.Context, tx *sqlx.Tx, row timelineRow) error {
	if _, err := tx.NamedExecContext(ctx, insertTimeline, row); err != nil {
		return fmt.Errorf("course %s timeline: %w", row.CourseID, err)
	}
	return nil
}

// timelineOf is the timeline line of a domain event and its wire message,
// if the event is about a course: what the course's story shows, from the
// same event that goes out (the funding, which scheduling does not
// announce, from the domain event).
func timelineOf(ev any, msg proto.Message) (timelineRow, bool) {
	if f, ok := ev.(course.FundedEvent); ok {
		return timelineRow{CourseID: f.Course.ID, At: f.Course.At, Event: "funded"}, true
	}
	switch m := msg.(type) {
	case *schedulingv1.CoursePlanned:
		event := "planned"
		if m.GetReplanned() {
			event = "replanned"
		}
		return courseLine(m.GetCourseId(), m.GetOccurredAt().AsTime(), event, m.GetReason())
	case *schedulingv1.CourseUnplanned:
		return courseLine(m.GetCourseId(), m.GetOccurredAt().AsTime(), "unplanned", m.GetReason())
	case *schedulingv1.CourseOnHold:
		return courseLine(m.GetCourseId(), m.GetOccurredAt().AsTime(), "on_hold", m.GetReason())
	case *schedulingv1.CourseResumed:
		return courseLine(m.GetCourseId(), m.GetOccurredAt().AsTime(), "resumed", "")
	case *schedulingv1.CourseCompleted:
		return courseLine(m.GetCourseId(), m.GetOccurredAt().AsTime(), "completed", "")
	case *schedulingv1.CourseCancelled:
		return courseLine(m.GetCourseId(), m.GetOccurredAt().AsTime(), "cancelled", m.GetReason())
	case *schedulingv1.AppointmentBooked:
		return appointmentLine(m.GetAppointment(), m.GetOccurredAt().AsTime(), "booked", "")
	case *schedulingv1.AppointmentRescheduled:
		return appointmentLine(m.GetAppointment(), m.GetOccurredAt().AsTime(), "rescheduled", "")
	case *schedulingv1.AppointmentCancelled:
		reason := m.GetReason()
		if m.GetSuspended() {
			reason = "suspended: " + reason
		}
		return appointmentLine(m.GetAppointment(), m.GetOccurredAt().AsTime(), "appointment_cancelled", reason)
	case *schedulingv1.AppointmentCheckedIn:
		return appointmentLine(m.GetAppointment(), m.GetOccurredAt().AsTime(), "checked_in", "")
	case *schedulingv1.AppointmentCompleted:
		return appointmentLine(m.GetAppointment(), m.GetOccurredAt().AsTime(), "appointment_completed", "")
	case *schedulingv1.AppointmentMissed:
		reason := "missed"
		if m.GetNoShow() {
			reason = "no_show"
		}
		return appointmentLine(m.GetAppointment(), m.GetOccurredAt().AsTime(), "missed", reason)
	case *schedulingv1.InfusionBlocked:
		return appointmentLine(m.GetAppointment(), m.GetOccurredAt().AsTime(), "infusion_blocked", m.GetReason())
	case *schedulingv1.CultureStarted:
		return productLine(m.GetProduct(), m.GetOccurredAt().AsTime(), "culture_started", "")
	case *schedulingv1.ProductReleased:
		return productLine(m.GetProduct(), m.GetOccurredAt().AsTime(), "released", "")
	case *schedulingv1.ProductFailed:
		return productLine(m.GetProduct(), m.GetOccurredAt().AsTime(), "failed", m.GetReason())
	}
	return timelineRow{}, false
}

func courseLine(courseID string, at time.Time, event, reason string) (timelineRow, bool) {
	id, err := uuid.Parse(courseID)
	if err != nil {
		return timelineRow{}, false
	}
	return timelineRow{CourseID: id, At: at, Event: event, Reason: nullString(reason)}, true
}

func appointmentLine(a *schedulingv1.Appointment, at time.Time, event, reason string) (timelineRow, bool) {
	row, ok := courseLine(a.GetCourseId(), at, event, reason)
	if !ok {
		return row, false // an ad-hoc appointment of no course
	}
	if id, err := uuid.Parse(a.GetAppointmentId()); err == nil {
		row.AppointmentID = uuid.NullUUID{UUID: id, Valid: true}
	}
	row.Kind = nullString(a.GetKind())
	row.Cycle = sql.NullInt32{Int32: a.GetCycle(), Valid: a.GetCycle() > 0}
	if a.GetStart() != nil {
		row.StartsAt = sql.NullTime{Time: a.GetStart().AsTime(), Valid: true}
	}
	row.ProductID = nullString(a.GetProductId())
	return row, true
}

func productLine(p *schedulingv1.Product, at time.Time, event, reason string) (timelineRow, bool) {
	row, ok := courseLine(p.GetCourseId(), at, event, reason)
	if !ok {
		return row, false
	}
	row.Cycle = sql.NullInt32{Int32: p.GetCycle(), Valid: p.GetCycle() > 0}
	row.ProductID = nullString(p.GetProductId())
	return row, true
}

// Timeline returns the course's timeline, oldest first.
func (q Queries) Timeline(ctx context.Context, courseID uuid.UUID) ([]app.TimelineEntry, error) {
	var rows []timelineRow
	if err := q.DB.SelectContext(ctx, &rows, selectTimeline, courseID); err != nil {
		return nil, fmt.Errorf("course %s timeline: %w", courseID, err)
	}
	out := make([]app.TimelineEntry, len(rows))
	for i, r := range rows {
		out[i] = app.TimelineEntry{At: r.At.UTC(), Event: r.Event, AppointmentID: r.AppointmentID.UUID, Kind: r.Kind.String,
			Cycle: int(r.Cycle.Int32), ProductID: r.ProductID.String, Reason: r.Reason.String}
		if r.StartsAt.Valid {
			out[i].StartsAt = r.StartsAt.Time.UTC()
		}
	}
	return out, nil
}
