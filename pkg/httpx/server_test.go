package httpx_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

func decodeBody(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestServerConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg := httpx.ServerConfig{WriteTimeout: time.Minute}.WithDefaults()
	require.Equal(t, httpx.DefaultAddr, cfg.Addr)
	require.Equal(t, time.Minute, cfg.WriteTimeout, "explicit values are kept")
	require.Equal(t, httpx.DefaultReadHeaderTimeout, cfg.ReadHeaderTimeout)
	require.Equal(t, httpx.DefaultShutdownTimeout, cfg.ShutdownTimeout)
}

func TestServeListenerGracefulShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.router.Health(nil)
	entered := make(chan struct{})
	release := make(chan struct{})
	b.router.Public("GET /slow", func(w http.ResponseWriter, _ *http.Request) error {
		close(entered)
		<-release
		return httpx.WriteJSON(w, http.StatusOK, map[string]string{"done": "yes"})
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := httpx.ServerConfig{Addr: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second}
	ln, err := httpx.Listen(ctx, cfg)
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- httpx.ServeListener(ctx, ln, cfg, b.router, b.log) }()

	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, resp.Body.Close())

	// Start a slow request, then ask the server to stop while it is in flight.
	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		slow <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	<-entered
	cancel()

	// New connections are refused once shutdown has begun.
	require.Eventually(t, func() bool {
		c := http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)

	close(release)
	res := <-slow
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status, "in-flight requests finish")
	require.JSONEq(t, `{"done":"yes"}`, res.body)
	require.NoError(t, <-served, "a clean shutdown returns nil")
}

func TestServeListenerShutdownTimeout(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // released when the server closes the connection
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := httpx.ServerConfig{Addr: "127.0.0.1:0", ShutdownTimeout: 50 * time.Millisecond}
	ln, err := httpx.Listen(ctx, cfg)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- httpx.ServeListener(ctx, ln, cfg, h, setup(t).log) }()

	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			_ = resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	require.ErrorIs(t, <-served, context.DeadlineExceeded)
}

func TestServeListenAddressInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ln, err := httpx.Listen(ctx, httpx.ServerConfig{Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	err = httpx.Serve(ctx, httpx.ServerConfig{Addr: ln.Addr().String()}, http.NotFoundHandler(), nil)
	require.Error(t, err)
}
