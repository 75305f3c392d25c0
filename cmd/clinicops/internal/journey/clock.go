package journey

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/httpx"
)

// Clock is the clock the services share. It only moves forward: the
// journey jumps to the day of a draw, the end of a 14-day culture and
// the infusion instead of waiting for them.
type Clock interface {
	// Now is the services' time.
	Now(ctx context.Context) (time.Time, error)
	// Advance moves every service's clock forward by d (> 0).
	Advance(ctx context.Context, d time.Duration) (time.Time, error)
}

// InProcess is the clock of services running in this process (the tests
// give every service one *clock.Dev).
type InProcess struct{ Dev *clock.Dev }

// Now is the dev clock's time.
func (c InProcess) Now(context.Context) (time.Time, error) { return c.Dev.Now(), nil }

// Advance moves the dev clock forward.
func (c InProcess) Advance(_ context.Context, d time.Duration) (time.Time, error) {
	return c.Dev.Advance(d)
}

// DevEndpoint is `clinicops dev`'s clock, moved through its /dev/clock
// endpoint with the admin token.
type DevEndpoint struct {
	// URL is the endpoint, e.g. http://127.0.0.1:8080/dev/clock.
	URL string
	// AdminToken is the admin role's bearer token.
	AdminToken string
	HTTP       *http.Client
}

// Now asks the endpoint for the time.
func (c DevEndpoint) Now(ctx context.Context) (time.Time, error) {
	var st clock.State
	if err := c.driver().call(ctx, httpx.RoleAdmin, http.MethodGet, c.URL, nil, &st); err != nil {
		return time.Time{}, fmt.Errorf("read the dev clock: %w", err)
	}
	return st.Now, nil
}

// Advance asks the endpoint to move the clock forward.
func (c DevEndpoint) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	var st clock.State
	if err := c.driver().call(ctx, httpx.RoleAdmin, http.MethodPost, c.URL, clock.AdvanceRequest{Advance: d.String()}, &st); err != nil {
		return time.Time{}, fmt.Errorf("advance the dev clock by %s: %w", d, err)
	}
	return st.Now, nil
}

func (c DevEndpoint) driver() *Driver {
	return &Driver{HTTP: c.HTTP, Tokens: map[httpx.Role]string{httpx.RoleAdmin: c.AdminToken}}
}

// now is the services' time (the wall clock when the driver has no Clock).
func (d *Driver) now(ctx context.Context) (time.Time, error) {
	if d.Clock == nil {
		return time.Now().UTC(), nil
	}
	return d.Clock.Now(ctx)
}

// advanceTo moves the clock to t, when t is ahead of it. It reports
// whether the clock moved.
func (d *Driver) advanceTo(ctx context.Context, t time.Time) (bool, error) {
	now, err := d.now(ctx)
	if err != nil {
		return false, err
	}
	if !t.After(now) {
		return false, nil
	}
	if d.Clock == nil {
		return false, fmt.Errorf("it is %s and the journey needs %s: the driver has no clock to move", now.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	if _, err := d.Clock.Advance(ctx, t.Sub(now)); err != nil {
		return false, err
	}
	return true, nil
}
