package ports

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
)

type timelineView struct {
	CourseID string              `json:"course_id"`
	Items    []timelineEntryView `json:"items"`
}

type timelineEntryView struct {
	At            time.Time  `json:"at"`
	Event         string     `json:"event"`
	AppointmentID *string    `json:"appointment_id"`
	Kind          *string    `json:"kind"`
	Cycle         *int       `json:"cycle"`
	StartsAt      *time.Time `json:"starts_at"`
	ProductID     *string    `json:"product_id"`
	Reason        *string    `json:"reason"`
}

func toTimelineEntryView(e app.TimelineEntry) timelineEntryView {
	v := timelineEntryView{At: e.At, Event: e.Event, Kind: optional(e.Kind), ProductID: optional(e.ProductID), Reason: optional(e.Reason)}
	if e.AppointmentID != uuid.Nil {
		id := e.AppointmentID.String()
		v.AppointmentID = &id
	}
	if e.Cycle > 0 {
		v.Cycle = &e.Cycle
	}
	if !e.StartsAt.IsZero() {
		v.StartsAt = &e.StartsAt
	}
	return v
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// getTimeline answers the course's story from scheduling's view.
func (h HTTP) getTimeline(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	if _, err := h.Read.Course(r.Context(), id); err != nil {
		return problem(err)
	}
	entries, err := h.Read.Timeline(r.Context(), id)
	if err != nil {
		return err
	}
	out := timelineView{CourseID: id.String(), Items: make([]timelineEntryView, len(entries))}
	for i, e := range entries {
		out.Items[i] = toTimelineEntryView(e)
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}
