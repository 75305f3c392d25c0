package idempotency_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// thingsMigrations give the handler a business table.
var thingsMigrations = pgdb.MigrationSource{Name: "things", FS: fstest.MapFS{
	"0001_things.up.sql": {Data: []byte(`CREATE TABLE things (id uuid PRIMARY KEY, name text NOT NULL);`)},
}, Dir: "."}

type thing struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// txBundle serves POST /things under WrapTx, with a repository transaction
// that claims the key first and stores the answer last, as intake's would.
type txBundle struct {
	db      *sqlx.DB
	store   *idempotency.Store
	srv     *httptest.Server
	token   string
	claims  atomic.Int32  // ClaimTx calls that got the key
	fail    atomic.Bool   // the business transaction fails after its writes
	refuse  atomic.Bool   // the use case refuses before any transaction
	holdWin chan struct{} // if set, the winner waits here after its claim
	// noClaim: the transaction skips ClaimTx, so AnswerTx claims the key
	// itself; lateAfterFirst then holds every request but the first after
	// its business write until the first one has committed.
	noClaim        atomic.Bool
	lateAfterFirst int32
	arrived        atomic.Int32
	firstCommitted chan struct{}
}

func setupTx(t *testing.T) *txBundle {
	t.Helper()
	db, _ := testharness.DB(t, messaging.Migrations, thingsMigrations)
	b := &txBundle{db: db, store: &idempotency.Store{DB: db, Log: testharness.Logger()}, token: httpx.GenerateToken()}
	tokens, err := httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleFrontDesk: {b.token}})
	require.NoError(t, err)
	rt := httpx.NewRouter(tokens, testharness.Logger())
	rt.Handle("POST /things", b.store.WrapTx(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			return httpx.BadRequest("bad body")
		}
		ctx := r.Context()
		render := func(th thing) (idempotency.Answer, error) {
			return idempotency.JSON(http.StatusCreated, th, "Location", "/things/"+th.ID)
		}
		idempotency.RenderWith(ctx, render)
		if b.refuse.Load() {
			return httpx.Conflict("refused on purpose")
		}
		th := thing{ID: uuid.NewString(), Name: in.Name}
		first := false
		err := pgdb.InTx(ctx, b.db, nil, func(tx *sqlx.Tx) error {
			if b.noClaim.Load() {
				if _, err := tx.ExecContext(ctx, `INSERT INTO things (id, name) VALUES ($1, $2)`, th.ID, th.Name); err != nil {
					return err
				}
				if n := b.arrived.Add(1); n == 1 {
					first = true
					deadline := time.Now().Add(15 * time.Second)
					for b.arrived.Load() < b.lateAfterFirst {
						if time.Now().After(deadline) {
							return errors.New("the other requests never reached their business write")
						}
						time.Sleep(time.Millisecond)
					}
				} else {
					<-b.firstCommitted
				}
				return idempotency.AnswerTx(ctx, tx, th)
			}
			if err := idempotency.ClaimTx(ctx, tx); err != nil {
				return err
			}
			b.claims.Add(1)
			if b.holdWin != nil {
				<-b.holdWin
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO things (id, name) VALUES ($1, $2)`, th.ID, th.Name); err != nil {
				return err
			}
			if b.fail.Load() {
				return errors.New("failure after the business write")
			}
			return idempotency.AnswerTx(ctx, tx, th)
		})
		if first {
			close(b.firstCommitted)
		}
		if err != nil {
			return err // ErrKeyTaken included: WrapTx replays instead
		}
		a, err := render(th)
		if err != nil {
			return err
		}
		w.Header().Set("Location", a.Header.Get("Location"))
		return httpx.WriteJSON(w, http.StatusCreated, th)
	}), httpx.RoleFrontDesk)
	b.srv = httptest.NewServer(rt)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *txBundle) post(t *testing.T, key, body string) (*http.Response, string) {
	t.Helper()
	return (&bundle{srv: b.srv, token: b.token}).post(t, key, body)
}

func (b *txBundle) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Get(&n, q, args...))
	return n
}

func TestTxSameKeySameBodyReplaysDifferentBodyIs422(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	r1, body1 := b.post(t, "k1", `{"name":"a"}`)
	require.Equal(t, http.StatusCreated, r1.StatusCode, body1)
	require.Empty(t, r1.Header.Get(idempotency.ReplayedHeader))
	r2, body2 := b.post(t, "k1", `{"name":"a"}`)
	require.Equal(t, http.StatusCreated, r2.StatusCode)
	require.Equal(t, body1, body2, "the first answer, byte for byte")
	require.Equal(t, r1.Header.Get("Location"), r2.Header.Get("Location"))
	require.Equal(t, "true", r2.Header.Get(idempotency.ReplayedHeader))

	r3, body3 := b.post(t, "k1", `{"name":"b"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r3.StatusCode, body3)
	require.Contains(t, body3, idempotency.Header)

	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM things`))
	require.Equal(t, int32(1), b.claims.Load())
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM idempotency_keys WHERE key = 'k1' AND status = 201`))

	r4, _ := b.post(t, "", `{"name":"a"}`)
	require.Equal(t, http.StatusCreated, r4.StatusCode, "no key: no idempotency")
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM things`))
}

// TestTxConcurrentSameKeyWaitsThenReplays: eight requests with one key reach
// the business transaction together; the first holds its transaction open
// until the seven others are seen waiting on a lock (the key's unique
// index); then one thing exists and all eight got the same answer.
func TestTxConcurrentSameKeyWaitsThenReplays(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	b.holdWin = make(chan struct{})
	var release sync.Once
	open := func() { release.Do(func() { close(b.holdWin) }) }
	t.Cleanup(open) // before the server's Close, which waits for the requests
	const n = 8
	type answer struct {
		status   int
		body     string
		replayed bool
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, body := b.post(t, "same", `{"name":"x"}`)
			answers[i] = answer{r.StatusCode, body, r.Header.Get(idempotency.ReplayedHeader) == "true"}
		}()
	}
	testharness.Eventually(t, 15*time.Second, func() bool {
		return b.claims.Load() == 1 && b.count(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`) == n-1
	}, "the other requests are not waiting on the first one's key")
	open()
	wg.Wait()

	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM things`), "exactly one effect")
	require.Equal(t, int32(1), b.claims.Load(), "only the first got past ClaimTx")
	replays := 0
	for _, a := range answers {
		require.Equal(t, http.StatusCreated, a.status, a.body)
		require.Equal(t, answers[0].body, a.body, "every caller gets the same answer")
		if a.replayed {
			replays++
		}
	}
	require.Equal(t, n-1, replays)
}

// TestTxAnswerWithoutClaimIsStillOnce: a repository that does not call
// ClaimTx still gets one effect per key from AnswerTx, even when a duplicate
// reaches AnswerTx after the first request committed its answer (the
// duplicate had passed WrapTx's look-up while the first was in flight).
// AnswerTx used to overwrite the committed answer and commit the duplicate:
// 8 things for 8 requests.
func TestTxAnswerWithoutClaimIsStillOnce(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	const n = 8
	b.noClaim.Store(true)
	b.lateAfterFirst = n
	b.firstCommitted = make(chan struct{})
	bodies := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, body := b.post(t, "unclaimed", `{"name":"y"}`)
			statuses[i], bodies[i] = r.StatusCode, body
		})
	}
	wg.Wait()
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM things`), "exactly one effect")
	for i := range n {
		require.Equal(t, http.StatusCreated, statuses[i], bodies[i])
		require.Equal(t, bodies[0], bodies[i], "every caller gets the first answer")
	}
}

func TestTxServerErrorLeavesNoKey(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	b.fail.Store(true)
	r, body := b.post(t, "retry-me", `{"name":"a"}`)
	require.Equal(t, http.StatusInternalServerError, r.StatusCode, body)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM things`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM idempotency_keys`), "a failure leaves no key")
	b.fail.Store(false)
	r, body = b.post(t, "retry-me", `{"name":"a"}`)
	require.Equal(t, http.StatusCreated, r.StatusCode, body)
	require.Empty(t, r.Header.Get(idempotency.ReplayedHeader))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM things`))
}

func TestTxRefusalIsStoredAndReplayed(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	b.refuse.Store(true)
	r1, body1 := b.post(t, "no", `{"name":"a"}`)
	require.Equal(t, http.StatusConflict, r1.StatusCode, body1)
	b.refuse.Store(false)
	r2, body2 := b.post(t, "no", `{"name":"a"}`)
	require.Equal(t, http.StatusConflict, r2.StatusCode, "the key is spent on the refusal")
	require.Equal(t, body1, body2)
	require.Equal(t, "true", r2.Header.Get(idempotency.ReplayedHeader))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM things`))
	require.Equal(t, int32(0), b.claims.Load())
}
