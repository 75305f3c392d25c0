// Package idempotency makes creating POSTs safe to retry: a request with an
// Idempotency-Key header is answered once; the same key and body later gets
// the first answer again, the same key with another body a 422.
//
// The first request claims its key with an in-progress row (committed at
// once, so no connection is held while the handler runs); a concurrent
// request with the same key gets a 409 and retries. The answer then replaces
// the claim; a 5xx answer releases it so that a retry runs again. A claim
// left by a crash is taken over after ClaimTimeout; if that crash came after
// the handler's own commit, the retry runs again, and the domain's unique
// constraints (a duplicate patient, say) are the guard there.
//
// That is three commits per request (claim, the handler's, answer). WrapTx
// (tx.go) does the same in the handler's one business transaction, and
// every keyed route of the four services uses it: a concurrent retry waits
// for the first and replays its answer, and an outage in the middle of a
// request leaves no claim behind. Wrap remains for a handler whose change
// cannot be made in one transaction of its own (none today); its claim,
// left behind when the database drops mid-request, makes retries a 409
// until ClaimTimeout.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// ReplayedHeader marks an answer served from the store.
const ReplayedHeader = "Idempotent-Replayed"

const (
	maxKeyLen = 255
	maxBody   = 1 << 20
	// claimKey inserts an in-progress claim (status 0), or takes over one
	// abandoned before since.
	claimKey = `INSERT INTO idempotency_keys (principal, key, method, path, request_hash, status, headers, body)
		VALUES ($1, $2, $3, $4, $5, 0, '{}', '')
		ON CONFLICT (principal, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, created_at = now()
			WHERE idempotency_keys.status = 0 AND idempotency_keys.created_at < $6
		RETURNING status`
	selectKey = `SELECT request_hash, status, headers, body FROM idempotency_keys WHERE principal = $1 AND key = $2`
	// storeKey fills in a claim (status 0) with its answer; an answer
	// already stored is never overwritten.
	storeKey   = `UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 WHERE principal = $1 AND key = $2 AND status = 0`
	releaseKey = `DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status = 0`
	deleteOld  = `DELETE FROM idempotency_keys WHERE created_at < $1`
)

// Store keeps answers in the service database (table idempotency_keys from
// messaging.Migrations).
type Store struct {
	DB *sqlx.DB
	// Retention is how long keys are kept (default 48 h; at least 24 h is promised).
	Retention time.Duration
	// ClaimTimeout is when an unfinished claim counts as abandoned (default 1 min).
	ClaimTimeout time.Duration
	Log          *slog.Logger
}

type stored struct {
	RequestHash []byte `db:"request_hash"`
	Status      int    `db:"status"`
	Headers     []byte `db:"headers"`
	Body        []byte `db:"body"`
}

// Wrap makes h idempotent for requests that carry an Idempotency-Key.
// Without the header h runs as is. It costs three commits per request (claim,
// the handler's own, answer); WrapTx does it in the handler's one commit.
func (s *Store) Wrap(h httpx.HandlerFunc) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, err := readRequest(w, r)
		if err != nil {
			return err
		}
		if req == nil {
			return h(w, r)
		}
		return s.serve(r.Context(), w, r, h, req.principal, req.key, req.hash)
	}
}

// request is what identifies an idempotent request.
type request struct {
	principal, key string
	hash           []byte
}

// readRequest validates the key and hashes the body (which it puts back for
// the handler). It returns nil without a key.
func readRequest(w http.ResponseWriter, r *http.Request) (*request, error) {
	key := r.Header.Get(Header)
	if key == "" {
		return nil, nil
	}
	if len(key) > maxKeyLen || !printable(key) {
		return nil, httpx.BadRequest("the Idempotency-Key header must be 1-255 printable ASCII characters",
			httpx.FieldError{Field: Header, Message: "is not a valid key"})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, httpx.PayloadTooLarge("the request body is too large")
		}
		return nil, httpx.BadRequest("the request body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	principal := "anonymous"
	if p, ok := httpx.PrincipalFrom(r.Context()); ok {
		principal = p.TokenID
	}
	sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"+r.Header.Get("Content-Type")+"\n"), body...))
	return &request{principal: principal, key: key, hash: sum[:]}, nil
}

func (s *Store) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, h httpx.HandlerFunc, principal, key string, hash []byte) error {
	timeout := s.ClaimTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	var claimed int
	err := s.DB.GetContext(ctx, &claimed, claimKey, principal, key, r.Method, r.URL.Path, hash, time.Now().Add(-timeout))
	if errors.Is(err, sql.ErrNoRows) {
		return s.replay(ctx, w, principal, key, hash)
	}
	if err != nil {
		return fmt.Errorf("idempotency claim: %w", err)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	h.ServeHTTP(rec, r)
	for k, vs := range rec.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
	// The answer is sent; what follows only decides what a retry gets.
	finish := context.WithoutCancel(ctx)
	if rec.status >= 500 {
		if _, err := s.DB.ExecContext(finish, releaseKey, principal, key); err != nil {
			s.log().Warn("release idempotency key", "err", err)
		}
		return nil
	}
	hdr := map[string]string{}
	for _, k := range []string{"Content-Type", "Location", "ETag", "X-Content-Type-Options"} {
		if v := rec.header.Get(k); v != "" {
			hdr[k] = v
		}
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	if _, err := s.DB.ExecContext(finish, storeKey, principal, key, rec.status, hb, rec.body.Bytes()); err != nil {
		s.log().Warn("store idempotency key", "err", err)
	}
	return nil
}

// replay answers a request whose key is taken.
func (s *Store) replay(ctx context.Context, w http.ResponseWriter, principal, key string, hash []byte) error {
	var prev stored
	if err := s.DB.GetContext(ctx, &prev, selectKey, principal, key); err != nil {
		return fmt.Errorf("idempotency lookup: %w", err)
	}
	if !bytes.Equal(prev.RequestHash, hash) {
		return httpx.Unprocessable("this Idempotency-Key was used with a different request",
			httpx.FieldError{Field: Header, Message: "was already used with another body"})
	}
	if prev.Status == 0 {
		return httpx.Conflict("a request with this Idempotency-Key is still in progress; retry shortly")
	}
	var hdr map[string]string
	if err := json.Unmarshal(prev.Headers, &hdr); err != nil {
		return fmt.Errorf("stored headers: %w", err)
	}
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.Header().Set(ReplayedHeader, "true")
	w.WriteHeader(prev.Status)
	_, _ = w.Write(prev.Body)
	return nil
}

func (s *Store) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Prune deletes keys older than the retention; run it periodically.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	ret := s.Retention
	if ret <= 0 {
		ret = 48 * time.Hour
	}
	res, err := s.DB.ExecContext(ctx, deleteOld, now.Add(-ret))
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", err)
	}
	return res.RowsAffected()
}

// RunPruner prunes every interval until ctx is done.
func (s *Store) RunPruner(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Prune(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log().Warn("prune idempotency keys", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// recorder buffers a handler's answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
