package channels

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// gateway is an HTTP server whose answer each test chooses.
type gateway struct {
	*httptest.Server
	requests atomic.Int32
}

func startGateway(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body []byte)) *gateway {
	t.Helper()
	g := &gateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		handle(w, r, body)
	}))
	t.Cleanup(g.Close)
	return g
}

// status answers every request with code.
func status(code int) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(code) }
}

// hangUp reads the request whole, then drops the connection unanswered:
// the receiver got it, the sender never learns.
func hangUp(w http.ResponseWriter, _ *http.Request, _ []byte) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// stall reads the request whole and answers only when the client gives up.
func stall(_ http.ResponseWriter, r *http.Request, _ []byte) { <-r.Context().Done() }

type outcome int

const (
	accepted outcome = iota
	refused
	transient
	unknown
)

func requireOutcome(t *testing.T, want outcome, err error) {
	t.Helper()
	switch want {
	case accepted:
		require.NoError(t, err)
	case refused:
		require.ErrorIs(t, err, app.ErrRefused)
		require.NotErrorIs(t, err, app.ErrOutcomeUnknown)
	case transient:
		require.Error(t, err)
		require.NotErrorIs(t, err, app.ErrRefused)
		require.NotErrorIs(t, err, app.ErrOutcomeUnknown)
	case unknown:
		require.ErrorIs(t, err, app.ErrOutcomeUnknown)
		require.NotErrorIs(t, err, app.ErrRefused)
	}
}

func decodeStrict(t *testing.T, body []byte, into any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	require.NoError(t, d.Decode(into))
}
