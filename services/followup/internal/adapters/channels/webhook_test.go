package channels

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

var webhookNow = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

func newTestWebhook(t *testing.T, url, secret string, timeout time.Duration) *Webhook {
	t.Helper()
	c, err := NewWebhook(WebhookConfig{URL: url, Secret: secret, Timeout: timeout,
		Now: func() time.Time { return webhookNow }})
	require.NoError(t, err)
	return c
}

func webhookMessage() app.Message {
	return app.Message{IdempotencyKey: "reminder-77", To: "0b9e6a52-3f0a-4f59-8d7e-5e4a1c1e2f00", Kind: "check_in",
		Subject: "输注后第3天随访", Body: "请回答三个问题。", Language: "zh-CN"}
}

// receiver verifies each request as a customer's endpoint would.
func receiver(t *testing.T, secret string, got chan<- WebhookPayload) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		if err := VerifySignature(secret, r.Header.Get(SignatureHeader), body, webhookNow.Add(3*time.Second), time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var p WebhookPayload
		decodeStrict(t, body, &p)
		if r.Header.Get("Idempotency-Key") != p.ID {
			http.Error(w, "key", http.StatusBadRequest)
			return
		}
		got <- p
		w.WriteHeader(http.StatusNoContent)
	}
}

func TestWebhookSendsASignedPayloadTheReceiverVerifies(t *testing.T) {
	t.Parallel()
	got := make(chan WebhookPayload, 2)
	g := startGateway(t, receiver(t, "whsec_1", got))
	ch := newTestWebhook(t, g.URL, "whsec_1", 5*time.Second)
	require.True(t, ch.Idempotent())
	require.Equal(t, "webhook", ch.Name())

	msg := webhookMessage()
	require.NoError(t, ch.Send(context.Background(), msg))
	require.NoError(t, ch.Send(context.Background(), msg), "a retry")
	want := WebhookPayload{ID: "reminder-77", Kind: "check_in", To: msg.To, Subject: msg.Subject, Body: msg.Body,
		Language: "zh-CN", SentAt: webhookNow}
	require.Equal(t, want, <-got)
	require.Equal(t, want, <-got, "every attempt carries the same id and Idempotency-Key")

	other := newTestWebhook(t, g.URL, "whsec_other", 5*time.Second)
	requireOutcome(t, refused, other.Send(context.Background(), msg))
}

func TestWebhookStatuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code int
		want outcome
	}{
		{200, accepted}, {202, accepted}, {204, accepted},
		{400, refused}, {401, refused}, {403, refused}, {404, refused}, {409, refused}, {410, refused}, {422, refused},
		{408, transient}, {429, transient}, {500, transient}, {502, transient}, {503, transient}, {504, transient},
		{301, transient},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, status(tc.code))
			requireOutcome(t, tc.want, newTestWebhook(t, g.URL, "s", 5*time.Second).Send(context.Background(), webhookMessage()))
		})
	}
}

func TestWebhookInDoubtAfterTheRequestWasSent(t *testing.T) {
	t.Parallel()
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, stall)
		requireOutcome(t, unknown, newTestWebhook(t, g.URL, "s", 200*time.Millisecond).Send(context.Background(), webhookMessage()))
	})
	t.Run("connection dropped", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, hangUp)
		requireOutcome(t, unknown, newTestWebhook(t, g.URL, "s", 5*time.Second).Send(context.Background(), webhookMessage()))
	})
	t.Run("receiver down", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, status(200))
		g.Close()
		requireOutcome(t, transient, newTestWebhook(t, g.URL, "s", 5*time.Second).Send(context.Background(), webhookMessage()))
	})
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"reminder-77","kind":"check_in"}`)
	at := time.Unix(1_790_000_000, 0)
	header := Sign("whsec_1", at, body)
	ts := strconv.FormatInt(at.Unix(), 10)
	v1 := strings.TrimPrefix(header, "t="+ts+",v1=")
	require.Len(t, v1, 64, "hex of a SHA-256 MAC")

	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", "whsec_1", header, body, at, nil},
		{"valid a little later", "whsec_1", header, body, at.Add(299 * time.Second), nil},
		{"valid with a clock a little behind", "whsec_1", header, body, at.Add(-time.Minute), nil},
		{"valid with spaces and another scheme", "whsec_1", "t=" + ts + ", v0=abc, v1=" + v1, body, at, nil},
		{"secret rotation: one of two matches", "whsec_1", header + ",v1=" + strings.Repeat("0", 64), body, at, nil},
		{"tampered body", "whsec_1", header, []byte(`{"id":"reminder-78","kind":"check_in"}`), at, ErrSignatureMismatch},
		{"wrong secret", "whsec_2", header, body, at, ErrSignatureMismatch},
		{"stale", "whsec_1", header, body, at.Add(301 * time.Second), ErrSignatureStale},
		{"from the future", "whsec_1", header, body, at.Add(-301 * time.Second), ErrSignatureStale},
		{"replayed with a fresh timestamp", "whsec_1", "t=" + strconv.FormatInt(at.Unix()+600, 10) + ",v1=" + v1, body,
			at.Add(600 * time.Second), ErrSignatureMismatch},
		{"no timestamp", "whsec_1", "v1=" + v1, body, at, ErrSignatureMalformed},
		{"no signature", "whsec_1", "t=" + ts, body, at, ErrSignatureMalformed},
		{"empty", "whsec_1", "", body, at, ErrSignatureMalformed},
		{"not hex", "whsec_1", "t=" + ts + ",v1=zz", body, at, ErrSignatureMismatch},
		{"truncated", "whsec_1", "t=" + ts + ",v1=" + v1[:32], body, at, ErrSignatureMismatch},
		{"two timestamps", "whsec_1", header + ",t=" + ts, body, at, ErrSignatureMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := VerifySignature(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
	require.NoError(t, VerifySignature("whsec_1", header, body, at.Add(4*time.Minute), 0), "zero tolerance means the default")
	require.ErrorIs(t, VerifySignature("whsec_1", header, body, at.Add(6*time.Minute), 0), ErrSignatureStale)
}
