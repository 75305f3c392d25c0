package channels

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

func newTestSMS(t *testing.T, url string, timeout time.Duration) *SMS {
	t.Helper()
	c, err := NewSMS(SMSConfig{URL: url, Token: "tok-123", Timeout: timeout})
	require.NoError(t, err)
	return c
}

func smsMessage() app.Message {
	return app.Message{IdempotencyKey: "reminder-9", To: "+8613800138000", Body: "明天上午九点输注，请空腹。",
		Language: "zh-CN", Kind: "visit_24h"}
}

func TestSMSPostsTheMessageWithTheToken(t *testing.T) {
	t.Parallel()
	got := make(chan smsRequest, 1)
	g := startGateway(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok-123" ||
			r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Idempotency-Key") != "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var req smsRequest
		decodeStrict(t, body, &req)
		got <- req
		w.WriteHeader(http.StatusAccepted)
	})
	ch := newTestSMS(t, g.URL, 5*time.Second)
	require.False(t, ch.Idempotent())
	require.Equal(t, "sms", ch.Name())

	require.NoError(t, ch.Send(context.Background(), smsMessage()))
	require.Equal(t, smsRequest{To: "+8613800138000", Text: "明天上午九点输注，请空腹。", Reference: "reminder-9"}, <-got)
}

func TestSMSStatuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code int
		want outcome
	}{
		{200, accepted}, {201, accepted}, {202, accepted},
		{400, refused}, {401, refused}, {404, refused}, {422, refused},
		{408, transient}, {429, transient},
		{500, transient}, {502, transient}, {503, transient},
		{302, transient},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, status(tc.code))
			requireOutcome(t, tc.want, newTestSMS(t, g.URL, 5*time.Second).Send(context.Background(), smsMessage()))
			require.EqualValues(t, 1, g.requests.Load())
		})
	}
}

func TestSMSInDoubtAfterTheRequestWasSent(t *testing.T) {
	t.Parallel()
	t.Run("connection dropped", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, hangUp)
		requireOutcome(t, unknown, newTestSMS(t, g.URL, 5*time.Second).Send(context.Background(), smsMessage()))
	})
	t.Run("connection dropped on a reused connection is not replayed", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		g := startGateway(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			if n.Add(1) == 1 {
				w.WriteHeader(http.StatusOK)
				return
			}
			hangUp(w, r, body)
		})
		ch := newTestSMS(t, g.URL, 5*time.Second)
		require.NoError(t, ch.Send(context.Background(), smsMessage()))
		requireOutcome(t, unknown, ch.Send(context.Background(), smsMessage()))
		require.EqualValues(t, 2, g.requests.Load(), "net/http must not resend the text on its own")
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, stall)
		requireOutcome(t, unknown, newTestSMS(t, g.URL, 200*time.Millisecond).Send(context.Background(), smsMessage()))
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		g := startGateway(t, func(_ http.ResponseWriter, r *http.Request, _ []byte) {
			cancel()
			<-r.Context().Done()
		})
		err := newTestSMS(t, g.URL, 5*time.Second).Send(ctx, smsMessage())
		requireOutcome(t, unknown, err)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestSMSNotSentIsNotInDoubt(t *testing.T) {
	t.Parallel()
	t.Run("gateway down", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, status(200))
		g.Close()
		requireOutcome(t, transient, newTestSMS(t, g.URL, 5*time.Second).Send(context.Background(), smsMessage()))
	})
	t.Run("cancelled before", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, status(200))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := newTestSMS(t, g.URL, 5*time.Second).Send(ctx, smsMessage())
		requireOutcome(t, transient, err)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, g.requests.Load())
	})
	t.Run("not a phone number", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, status(200))
		msg := smsMessage()
		msg.To = "13800138000"
		err := newTestSMS(t, g.URL, 5*time.Second).Send(context.Background(), msg)
		requireOutcome(t, refused, err)
		require.NotContains(t, err.Error(), "13800138000")
		require.Zero(t, g.requests.Load())
	})
}
