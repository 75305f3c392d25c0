package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// devProcess is `clinicops dev` running as a child process.
type devProcess struct {
	cmd *exec.Cmd
	log *os.File
}

func startDev(t *testing.T, bin string, args []string, logPath string) *devProcess {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"dev"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "NATS_URL=", "INTAKE_DATABASE_URL=", "SCHEDULING_DATABASE_URL=", "BILLING_DATABASE_URL=", "FOLLOWUP_DATABASE_URL=")
	require.NoError(t, cmd.Start())
	p := &devProcess{cmd: cmd, log: logf}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		_ = logf.Close()
	})
	return p
}

func readTokens(t *testing.T, path string) map[httpx.Role]string {
	t.Helper()
	fh, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = fh.Close() }()
	out := map[httpx.Role]string{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.HasPrefix(k, "CLINICOPS_TOKEN_") {
			out[httpx.Role(strings.ToLower(strings.TrimPrefix(k, "CLINICOPS_TOKEN_")))] = v
		}
	}
	return out
}

func waitReady(t *testing.T, addrs map[string]string, logPath string) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second}
	for name, addr := range addrs {
		testharness.Eventually(t, 90*time.Second, func() bool {
			resp, err := hc.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, "%s not ready; log: %s", name, logPath)
	}
}

// TestKill9DuringBurstLosesNoAcknowledgedRegistration kills the whole
// `clinicops dev` process with SIGKILL in the middle of a burst of
// registrations, restarts it on the same data, and checks that every
// registration that got a 201 is still there and reached every consumer.
func TestKill9DuringBurstLosesNoAcknowledgedRegistration(t *testing.T) {
	t.Parallel()
	testharness.Cluster(t) // makes sure the PostgreSQL server is installed
	work, err := os.MkdirTemp("", "clinicops-kill9-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(work, 0o755)) // the postgres OS user must reach the data dir
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(work, "dev.log")); err == nil {
				t.Logf("clinicops dev log (tail):\n%s", tail(string(b), 60))
			}
		}
		_ = os.RemoveAll(work)
	})
	bin := filepath.Join(work, "clinicops")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	base := freeRun(t, 4)
	args := []string{"-data-dir", filepath.Join(work, "data"), "-base-port", strconv.Itoa(base),
		"-nats-port", strconv.Itoa(freePort(t)), "-nats-monitor-port", strconv.Itoa(freePort(t)),
		"-pg-port", strconv.Itoa(freePort(t)), "-log-level", "warn"}
	addrs := map[string]string{}
	for i, s := range services {
		addrs[s.Name] = "127.0.0.1:" + strconv.Itoa(base+i)
	}
	logPath := filepath.Join(work, "dev.log")
	first := startDev(t, bin, args, logPath)
	waitReady(t, addrs, logPath)
	c := client{http: &http.Client{Timeout: 5 * time.Second}, addrs: addrs, token: readTokens(t, filepath.Join(work, "data", "dev-tokens.env"))}

	// The burst: 8 clients register until the process dies under them.
	var (
		mu      sync.Mutex
		created []string
		n       atomic.Int64
		wg      sync.WaitGroup
	)
	killAt := int64(150)
	killed := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				status, body, err := tryPost(c, newPatient(w*100000+i))
				if err != nil {
					continue // connection refused or reset: the process is gone
				}
				if status == http.StatusCreated {
					mu.Lock()
					created = append(created, body["id"].(string))
					mu.Unlock()
					n.Add(1)
				}
			}
		}()
	}
	testharness.Eventually(t, 60*time.Second, func() bool { return n.Load() >= killAt })
	require.NoError(t, first.cmd.Process.Kill()) // SIGKILL: no shutdown code runs
	_ = first.cmd.Wait()
	close(killed)
	wg.Wait()
	t.Logf("%d registrations acknowledged before kill -9", len(created))

	startDev(t, bin, args, logPath)
	waitReady(t, addrs, logPath)
	for _, id := range created {
		st, _ := c.do(t, httpx.RoleFrontDesk, http.MethodGet, "intake", "/v1/patients/"+id, nil)
		require.Equal(t, http.StatusOK, st, "acknowledged registration %s lost", id)
	}
	for _, rm := range readModels {
		for _, id := range created {
			path := strings.Replace(rm.path, "%s", id, 1)
			testharness.Eventually(t, 60*time.Second, func() bool {
				st, _ := c.do(t, rm.role, http.MethodGet, rm.service, path, nil)
				return st == http.StatusOK
			}, "%s did not catch up with %s", rm.service, id)
		}
	}
}

func tryPost(c client, body map[string]any) (int, map[string]any, error) {
	return postJSON(c.http, "http://"+c.addrs["intake"]+"/v1/patients", c.token[httpx.RoleFrontDesk], body)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
