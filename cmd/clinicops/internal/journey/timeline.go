package journey

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// TimelineEntry is one event of a course, as scheduling's timeline shows it.
type TimelineEntry struct {
	At            time.Time  `json:"at"`
	Event         string     `json:"event"`
	AppointmentID *string    `json:"appointment_id"`
	Kind          *string    `json:"kind"`
	Cycle         *int       `json:"cycle"`
	StartsAt      *time.Time `json:"starts_at"`
	ProductID     *string    `json:"product_id"`
	Reason        *string    `json:"reason"`
}

// Timeline reads the course's timeline from scheduling.
func (d *Driver) Timeline(ctx context.Context, courseID string) ([]TimelineEntry, error) {
	var out struct {
		Items []TimelineEntry `json:"items"`
	}
	if err := d.call(ctx, httpx.RoleClinician, http.MethodGet, d.Scheduling+"/v1/courses/"+url.PathEscape(courseID)+"/timeline", nil, &out); err != nil {
		return nil, fmt.Errorf("read the timeline of course %s: %w", courseID, err)
	}
	return out.Items, nil
}
