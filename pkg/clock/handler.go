package clock

import (
	"errors"
	"net/http"
	"time"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// maxAdvanceBody bounds the POST body: it holds one short duration string.
const maxAdvanceBody = 1 << 10

// State is what the dev clock endpoint answers.
type State struct {
	// Now is the clock's time, RFC 3339 with nanoseconds (microseconds in
	// practice).
	Now time.Time `json:"now"`
	// Offset is how far ahead of real time the clock runs, as a Go duration.
	Offset string `json:"offset"`
}

// AdvanceRequest is the POST body: {"advance":"336h"}, a Go duration > 0.
type AdvanceRequest struct {
	Advance string `json:"advance"`
}

// Handler serves the dev clock: GET answers {"now": ..., "offset": ...};
// POST {"advance":"336h"} moves the clock forward and answers the new state.
// Malformed JSON or an unknown field is a 400, a missing, unparseable, zero,
// negative or too large duration a 422, both application/problem+json.
//
// It changes time for everything sharing the clock, so mount it behind the
// admin token and only in dev.
func Handler(c *Dev) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return httpx.WriteJSON(w, http.StatusOK, State{Now: c.Now(), Offset: c.Offset().String()})
		case http.MethodPost:
			var req AdvanceRequest
			if err := httpx.DecodeJSON(r, &req, maxAdvanceBody); err != nil {
				return err
			}
			if req.Advance == "" {
				return httpx.Unprocessable(`field "advance" is required`,
					httpx.FieldError{Field: "advance", Message: "is required"})
			}
			d, err := time.ParseDuration(req.Advance)
			if err != nil {
				return httpx.Unprocessable(`field "advance" must be a Go duration such as "336h" or "90m"`,
					httpx.FieldError{Field: "advance", Message: "must be a duration such as 336h"})
			}
			now, err := c.Advance(d)
			switch {
			case errors.Is(err, ErrNotForward):
				return httpx.Unprocessable(`field "advance" must be positive: the clock never moves backward`,
					httpx.FieldError{Field: "advance", Message: "must be positive"})
			case errors.Is(err, ErrTooFar):
				return httpx.Unprocessable(`field "advance" goes too far ahead of real time`,
					httpx.FieldError{Field: "advance", Message: "must keep the clock within " + MaxOffset.String() + " of real time"})
			case err != nil:
				return err
			}
			return httpx.WriteJSON(w, http.StatusOK, State{Now: now, Offset: c.Offset().String()})
		default:
			return httpx.MethodNotAllowed(http.MethodGet, http.MethodPost)
		}
	}
}
