package idempotency_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

type bundle struct {
	store *idempotency.Store
	calls atomic.Int32
	srv   *httptest.Server
	token string
	fail  atomic.Bool
	gate  chan struct{}
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db, _ := testharness.DB(t, messaging.Migrations)
	b := &bundle{store: &idempotency.Store{DB: db, Log: testharness.Logger()}, token: httpx.GenerateToken()}
	tokens, err := httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleFrontDesk: {b.token}})
	require.NoError(t, err)
	rt := httpx.NewRouter(tokens, testharness.Logger())
	rt.Handle("POST /things", b.store.Wrap(func(w http.ResponseWriter, r *http.Request) error {
		n := b.calls.Add(1)
		if b.gate != nil {
			<-b.gate
		}
		if b.fail.Load() {
			return httpx.Internal()
		}
		w.Header().Set("Location", "/things/1")
		return httpx.WriteJSON(w, http.StatusCreated, map[string]int32{"call": n})
	}), httpx.RoleFrontDesk)
	b.srv = httptest.NewServer(rt)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bundle) post(t *testing.T, key, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/things", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b2, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b2)
}

func TestSameKeySameBodyReplaysTheFirstAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r1, body1 := b.post(t, "k1", `{"a":1}`)
	r2, body2 := b.post(t, "k1", `{"a":1}`)
	require.Equal(t, http.StatusCreated, r1.StatusCode)
	require.Equal(t, http.StatusCreated, r2.StatusCode)
	require.Equal(t, body1, body2)
	require.Equal(t, "/things/1", r2.Header.Get("Location"))
	require.Equal(t, "true", r2.Header.Get(idempotency.ReplayedHeader))
	require.Equal(t, int32(1), b.calls.Load())

	r3, body3 := b.post(t, "k1", `{"a":2}`)
	require.Equal(t, http.StatusUnprocessableEntity, r3.StatusCode, body3)
	require.Contains(t, body3, idempotency.Header)
	require.Equal(t, int32(1), b.calls.Load())

	r4, _ := b.post(t, "", `{"a":1}`)
	require.Equal(t, http.StatusCreated, r4.StatusCode, "no key: no idempotency")
	require.Equal(t, int32(2), b.calls.Load())
}

func TestConcurrentFirstUsesRunTheHandlerOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.gate = make(chan struct{})
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := b.post(t, "same", `{}`)
			statuses[i] = r.StatusCode
		}()
	}
	testharness.Eventually(t, 10*time.Second, func() bool { return b.calls.Load() == 1 })
	close(b.gate)
	wg.Wait()
	require.Equal(t, int32(1), b.calls.Load())
	for _, s := range statuses {
		require.Contains(t, []int{http.StatusCreated, http.StatusConflict}, s)
	}
	r, _ := b.post(t, "same", `{}`)
	require.Equal(t, http.StatusCreated, r.StatusCode)
}

func TestServerErrorReleasesTheKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fail.Store(true)
	r, _ := b.post(t, "retry-me", `{}`)
	require.Equal(t, http.StatusInternalServerError, r.StatusCode)
	b.fail.Store(false)
	r, _ = b.post(t, "retry-me", `{}`)
	require.Equal(t, http.StatusCreated, r.StatusCode)
	require.Equal(t, int32(2), b.calls.Load())
}

func TestAbandonedClaimIsTakenOverAndOldKeysPruned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.store.ClaimTimeout = time.Millisecond
	_, err := b.store.DB.Exec(`INSERT INTO idempotency_keys (principal, key, method, path, request_hash, status, headers, body, created_at)
		VALUES ($1, 'crashed', 'POST', '/things', '\x00', 0, '{}', '', now() - interval '1 hour')`, httpx.HashToken(b.token)[:8])
	require.NoError(t, err)
	r, body := b.post(t, "crashed", `{}`)
	require.Equal(t, http.StatusCreated, r.StatusCode, body)

	n, err := b.store.Prune(context.Background(), time.Now().Add(72*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestBadKeyIsRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r, body := b.post(t, strings.Repeat("k", 300), `{}`)
	require.Equal(t, http.StatusBadRequest, r.StatusCode, body)
	require.Equal(t, int32(0), b.calls.Load())
}
