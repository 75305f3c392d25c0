// Package journey walks one patient through clinicops over the services'
// public HTTP APIs only, with one bearer token per role, as the people of
// the clinic would: the front desk registers, consents, screens and
// requests a course (intake); the cashier takes the deposit (billing); the
// nurse draws and infuses, the lab cultures, releases or fails the product
// (scheduling); the clinician or the front desk cancels. Between steps it
// waits, with a deadline, for the services to react to each other's events,
// and keeps how long each wait took.
//
// It is a driver, not a test: the end-to-end tests assert on what it
// returns, and `clinicops demo` prints it.
package journey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// Defaults of a Driver.
const (
	DefaultTimeout = 20 * time.Second
	DefaultPoll    = 50 * time.Millisecond
)

// Driver drives the services. Set the exported fields, then call its
// steps; it is safe for one journey at a time.
type Driver struct {
	// HTTP sends the requests (http.DefaultClient when nil).
	HTTP *http.Client
	// Intake, Scheduling and Billing are the services' base URLs, e.g.
	// http://127.0.0.1:8081.
	Intake, Scheduling, Billing string
	// Followup is follow-up's base URL (the safety journeys need it).
	Followup string
	// Tokens holds one bearer token per role.
	Tokens map[httpx.Role]string
	// Clock is the system's clock; the steps that need the clinic's day to
	// come (a draw, a culture's end, an infusion) move it forward.
	Clock Clock
	// Timeout bounds each wait for a service to catch up (DefaultTimeout).
	Timeout time.Duration
	// Poll is the pause between two reads of a wait (DefaultPoll).
	Poll time.Duration
	// OnWait, if set, hears of each wait when it ends.
	OnWait func(Wait)

	mu    sync.Mutex
	waits []Wait
	seq   int
}

// Wait is one wait for the system to catch up: what was awaited and how
// long it took.
type Wait struct {
	What string
	Took time.Duration
}

// Waits are the waits so far, in order.
func (d *Driver) Waits() []Wait {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Wait(nil), d.waits...)
}

// APIError is an answer outside 2xx: its status and problem document.
type APIError struct {
	Method, URL string
	Status      int
	Type        string `json:"type"`
	Title       string `json:"title"`
	Detail      string `json:"detail"`
	// Reason is a conflict's reason, when the service gives one.
	Reason string `json:"reason"`
	Body   string `json:"-"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, e.Body)
}

// StatusOf is the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status
	}
	return 0
}

// ErrTimeout: a wait ran past the driver's Timeout.
var ErrTimeout = errors.New("timed out")

// WaitFor polls ready until it reports true, an error, or the Timeout
// runs out, and records the wait under what. An *APIError below 500 is
// taken as "not yet" (a read model that has not caught up answers 404);
// a 5xx or a transport error ends the wait at once.
func (d *Driver) WaitFor(ctx context.Context, what string, ready func(context.Context) (bool, error)) error {
	timeout, poll := d.Timeout, d.Poll
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if poll <= 0 {
		poll = DefaultPoll
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var last error
	for {
		ok, err := ready(ctx)
		if st := StatusOf(err); err != nil && (st == 0 || st >= 500) && ctx.Err() == nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok && err == nil {
			w := Wait{What: what, Took: time.Since(start)}
			d.mu.Lock()
			d.waits = append(d.waits, w)
			d.mu.Unlock()
			if d.OnWait != nil {
				d.OnWait(w)
			}
			return nil
		}
		if err != nil && ctx.Err() == nil {
			last = err // not the deadline's own error: the service's last answer
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("wait for %s: %w after %s (last answer: %w)", what, ErrTimeout, timeout, last)
			}
			return fmt.Errorf("wait for %s: %w after %s", what, ErrTimeout, timeout)
		case <-tick.C:
		}
	}
}

// key is a fresh Idempotency-Key for one step (unique within the
// driver's run; a retry of the step inside call reuses it).
func (d *Driver) key(step string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	return fmt.Sprintf("journey-%s-%d-%d", step, time.Now().UnixNano(), d.seq)
}

// call sends one request as role and decodes a 2xx JSON answer into out
// (when out is not nil); any other status is an *APIError.
func (d *Driver) call(ctx context.Context, role httpx.Role, method, url string, body, out any, header ...string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	tok, ok := d.Tokens[role]
	if !ok {
		return fmt.Errorf("%s %s: no %s token", method, url, role)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Method: method, URL: url, Status: resp.StatusCode, Body: string(raw)}
		_ = json.Unmarshal(raw, e) // a problem document, when it is one
		return e
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, url, err)
	}
	return nil
}

func (d *Driver) client() *http.Client {
	if d.HTTP == nil {
		return http.DefaultClient
	}
	return d.HTTP
}
