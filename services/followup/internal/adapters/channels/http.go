package channels

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// newHTTPClient makes the client of one HTTP channel. It follows no
// redirect: a redirected POST would be sent twice, or turned into a GET.
func newHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Shorter than the idle limit of common servers (60 s and up), so
	// that a request rarely meets a connection the server is closing:
	// on the SMS channel that race would be an outcome in doubt.
	t.IdleConnTimeout = 20 * time.Second
	t.MaxIdleConnsPerHost = 4
	return &http.Client{
		Timeout:       timeout,
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// verdict turns a response status into Send's error.
type verdict func(status int) error

// post sends req and judges the outcome. A failure after the request was
// written whole (a timeout, a reset, a cancelled ctx) is ErrOutcomeUnknown:
// the receiver may have acted on it. A failure before is transient.
func post(ctx context.Context, client *http.Client, req *http.Request, what string, judge verdict) error {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	resp, err := client.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may hold a token: keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if wrote.Load() {
			return fmt.Errorf("%s: no answer after the request was sent: %w: %w", what, app.ErrOutcomeUnknown, err)
		}
		return fmt.Errorf("%s: send the request: %w", what, err)
	}
	// Drain a little so the connection can be reused; the body itself is
	// never quoted in an error, since gateways echo numbers in it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if err := judge(resp.StatusCode); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func statusError(status int, kind error) error {
	if kind == nil {
		return fmt.Errorf("status %d", status)
	}
	return fmt.Errorf("status %d: %w", status, kind)
}
