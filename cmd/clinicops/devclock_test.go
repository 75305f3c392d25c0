package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/testharness"
)

// TestDevClockMovesEveryServiceForward runs `clinicops dev` in this process
// and moves its clock through /dev/clock: what the services record after
// that carries the advanced time, and the clock never moves backward.
func TestDevClockMovesEveryServiceForward(t *testing.T) {
	t.Parallel()
	testharness.Cluster(t) // installs the PostgreSQL server where it is missing
	work, err := os.MkdirTemp("", "clinicops-devclock-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(work, 0o755)) // the postgres OS user must reach the data dir
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	base, devPort := freeRun(t, 4), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, []string{"-data-dir", filepath.Join(work, "data"), "-base-port", strconv.Itoa(base),
			"-nats-port", strconv.Itoa(freePort(t)), "-nats-monitor-port", strconv.Itoa(freePort(t)),
			"-pg-port", strconv.Itoa(freePort(t)), "-dev-port", strconv.Itoa(devPort), "-log-level", "warn"}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	var b []byte
	clockURL := "http://127.0.0.1:" + strconv.Itoa(devPort) + "/dev/clock"
	tokens := map[string]string{}
	testharness.Eventually(t, 90*time.Second, func() bool {
		b, err = os.ReadFile(filepath.Join(work, "data", "dev-tokens.env"))
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				tokens[k] = v
			}
		}
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(base) + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "clinicops dev did not start")
	admin := tokens["CLINICOPS_TOKEN_ADMIN"]

	call := func(method, url, token, body string) (int, map[string]any) {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		var m map[string]any
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		if len(raw) > 0 {
			require.NoError(t, json.Unmarshal(raw, &m), string(raw))
		}
		return resp.StatusCode, m
	}
	parse := func(m map[string]any, key string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, m[key].(string))
		require.NoError(t, err)
		return v
	}

	st, _ := call(http.MethodGet, clockURL, "", "")
	require.Equal(t, http.StatusUnauthorized, st)
	st, _ = call(http.MethodPost, clockURL, tokens["CLINICOPS_TOKEN_FRONT_DESK"], `{"advance":"1h"}`)
	require.Equal(t, http.StatusForbidden, st)
	st, before := call(http.MethodGet, clockURL, admin, "")
	require.Equal(t, http.StatusOK, st)
	st, problem := call(http.MethodPost, clockURL, admin, `{"advance":"-1h"}`)
	require.Equal(t, http.StatusUnprocessableEntity, st, problem)

	st, after := call(http.MethodPost, clockURL, admin, `{"advance":"336h"}`)
	require.Equal(t, http.StatusOK, st, after)
	require.GreaterOrEqual(t, parse(after, "now").Sub(parse(before, "now")), 336*time.Hour)

	// Intake, a service on that clock, stamps a new patient with it.
	b, err = json.Marshal(newPatient(1))
	require.NoError(t, err)
	st, p := call(http.MethodPost, "http://127.0.0.1:"+strconv.Itoa(base)+"/v1/patients", tokens["CLINICOPS_TOKEN_FRONT_DESK"], string(b))
	require.Equal(t, http.StatusCreated, st, p)
	require.WithinDuration(t, time.Now().Add(336*time.Hour), parse(p, "created_at"), time.Hour)
}
