package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// system is the four services running in this process on real Postgres
// databases and an in-process JetStream server.
type system struct {
	addrs  map[string]string
	tokens map[httpx.Role]string
}

func startSystem(t *testing.T) *system {
	t.Helper()
	sys := &system{addrs: map[string]string{}}
	for i, s := range testharness.StartServices(t, services) {
		sys.addrs[services[i].Name] = s.Runtime.Addr()
		sys.tokens = s.Tokens
	}
	return sys
}

type client struct {
	http  *http.Client
	addrs map[string]string
	token map[httpx.Role]string
}

func (c client) do(t *testing.T, role httpx.Role, method, service, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+c.addrs[service]+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.token[role])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func newPatient(i int) map[string]any {
	return map[string]any{
		"family_name": "李", "given_name": "春花" + strconv.Itoa(i), "birth_date": "1975-03-09", "sex": "female",
		"phone": fmt.Sprintf("+86139%08d", i), "email": fmt.Sprintf("p%d@example.cn", i), "preferred_language": "zh-CN",
	}
}

// readModels are the three consumers' views of a patient.
var readModels = []struct {
	service string
	role    httpx.Role
	path    string
}{
	{"scheduling", httpx.RoleNurse, "/v1/patients/%s"},
	{"billing", httpx.RoleBilling, "/v1/accounts/%s"},
	{"followup", httpx.RoleClinician, "/v1/patients/%s/contact"},
}

func TestRegistrationReachesAllThreeReadModels(t *testing.T) {
	t.Parallel()
	sys := startSystem(t)
	c := client{http: &http.Client{Timeout: 10 * time.Second}, addrs: sys.addrs, token: sys.tokens}
	status, body := c.do(t, httpx.RoleFrontDesk, http.MethodPost, "intake", "/v1/patients", newPatient(1))
	require.Equal(t, http.StatusCreated, status, body)
	id := body["id"].(string)
	for _, rm := range readModels {
		testharness.Eventually(t, 10*time.Second, func() bool {
			st, _ := c.do(t, rm.role, http.MethodGet, rm.service, fmt.Sprintf(rm.path, id), nil)
			return st == http.StatusOK
		}, "%s never saw the patient", rm.service)
	}
	_, acct := c.do(t, httpx.RoleBilling, http.MethodGet, "billing", "/v1/accounts/"+id, nil)
	require.Equal(t, "CNY", acct["currency"])
	_, contact := c.do(t, httpx.RoleClinician, http.MethodGet, "followup", "/v1/patients/"+id+"/contact", nil)
	require.Equal(t, "zh-CN", contact["preferred_language"])
	_, ref := c.do(t, httpx.RoleNurse, http.MethodGet, "scheduling", "/v1/patients/"+id, nil)
	require.Equal(t, "1975-03-09", ref["birth_date"])

	// Every service answers readiness, and rejects a write without a token.
	for name, addr := range sys.addrs {
		resp, err := http.Get("http://" + addr + "/readyz")
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
	}
	resp, err := http.Post("http://"+sys.addrs["intake"]+"/v1/patients", "application/json", bytes.NewReader([]byte(`{}`)))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// freePort returns a port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// freeRun returns the first of n consecutive free ports.
func freeRun(t *testing.T, n int) int {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		base := freePort(t)
		ok := true
		for i := 1; i < n && ok; i++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				continue
			}
			_ = l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports")
	return 0
}
