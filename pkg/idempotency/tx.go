package idempotency

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/pgdb"
)

// One commit per request
//
// WrapTx answers a keyed request with a single commit, the business
// transaction's own: the repository inserts the key row at the start of its
// transaction (ClaimTx) and stores the answer in it at the end (AnswerTx).
// A concurrent request with the same key blocks on the key's unique index in
// its ClaimTx until the first transaction ends: if that committed, the second
// rolls back and replays the stored answer; if it rolled back (a failure),
// the second goes on as the first. The answer is rendered inside the
// transaction by a function the HTTP handler registers (RenderWith) from the
// use case's result, so it is known before the commit; the first caller gets
// exactly the stored bytes. Refusals (4xx) write nothing in the business
// transaction and are stored on their own; a 5xx stores nothing, so a retry
// runs again.

// ErrKeyTaken is returned by ClaimTx and AnswerTx when a concurrent request
// with the same key committed first. The repository returns it (rolling its
// transaction back); WrapTx then replays that request's answer, whatever the
// handler made of the error.
var ErrKeyTaken = errors.New("idempotency key taken by a concurrent request")

// Answer is an HTTP answer as stored and replayed.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON renders v the way httpx.WriteJSON writes it, plus the given header
// pairs (e.g. "Location", "/v1/patients/1", "ETag", `"1"`).
func JSON(status int, v any, headerPairs ...string) (Answer, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Answer{}, fmt.Errorf("encode answer: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	for i := 0; i+1 < len(headerPairs); i += 2 {
		h.Set(headerPairs[i], headerPairs[i+1])
	}
	return Answer{Status: status, Header: h, Body: append(b, '\n')}, nil
}

// pending is a keyed request under WrapTx, shared through the context
// between the middleware, the handler (RenderWith) and the repository's
// transaction (ClaimTx, AnswerTx).
type pending struct {
	request
	method, path string
	claimTimeout time.Duration

	mu       sync.Mutex
	render   func(any) (Answer, error)
	taken    bool
	answered *Answer // stored by AnswerTx (committed if the handler succeeded)
}

type pendingKey struct{}

func pendingFrom(ctx context.Context) *pending {
	p, _ := ctx.Value(pendingKey{}).(*pending)
	return p
}

// RenderWith registers how the handler answers once its use case returned a
// T; AnswerTx calls it inside the business transaction. Without a keyed
// request under WrapTx in ctx it does nothing.
func RenderWith[T any](ctx context.Context, fn func(T) (Answer, error)) {
	p := pendingFrom(ctx)
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.render = func(v any) (Answer, error) {
		t, ok := v.(T)
		if !ok {
			var want T
			return Answer{}, fmt.Errorf("idempotency: renderer wants %T, AnswerTx got %T", want, v)
		}
		return fn(t)
	}
}

// ClaimTx inserts the request's key in tx; call it first in the business
// transaction, so that a concurrent request with the same key waits here
// (on the unique index) instead of doing the work twice. It returns
// ErrKeyTaken if such a request committed first. Without a keyed request
// under WrapTx in ctx it does nothing.
func ClaimTx(ctx context.Context, tx *sqlx.Tx) error {
	p := pendingFrom(ctx)
	if p == nil {
		return nil
	}
	var status int
	err := tx.GetContext(ctx, &status, claimKey, p.principal, p.key, p.method, p.path, p.hash, time.Now().Add(-p.claimTimeout))
	if errors.Is(err, sql.ErrNoRows) {
		p.mu.Lock()
		p.taken = true
		p.mu.Unlock()
		return ErrKeyTaken
	}
	if err != nil {
		return fmt.Errorf("idempotency claim: %w", err)
	}
	return nil
}

// InTx runs fn in one transaction (pgdb.InTx) that claims the request's key
// first and stores the answer for what fn returns last: the one commit of a
// keyed write under WrapTx, for a repository whose change is that
// transaction. A concurrent retry waits on the key before fn does any work,
// then replays the first answer; ErrKeyTaken is returned as it is. Without
// a keyed request in ctx it is pgdb.InTx.
func InTx(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) (any, error)) error {
	return pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		if err := ClaimTx(ctx, tx); err != nil {
			return err
		}
		result, err := fn(tx)
		if err != nil {
			return err
		}
		return AnswerTx(ctx, tx, result)
	})
}

// AnswerTx renders the answer for result (with the function given to
// RenderWith) and stores it with the key in tx; call it last in the business
// transaction. It claims the key itself if ClaimTx was not called in tx
// (then a concurrent duplicate is only caught here, after its work). Without
// a keyed request under WrapTx in ctx it does nothing.
func AnswerTx(ctx context.Context, tx *sqlx.Tx, result any) error {
	p := pendingFrom(ctx)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	render := p.render
	p.mu.Unlock()
	if render == nil {
		return errors.New("idempotency: AnswerTx without a renderer (the handler must call RenderWith)")
	}
	ans, err := render(result)
	if err != nil {
		return err
	}
	hb, err := json.Marshal(storedHeaders(ans.Header))
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, storeKey, p.principal, p.key, ans.Status, hb, ans.Body)
	if err != nil {
		return fmt.Errorf("idempotency answer: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("idempotency answer: %w", err)
	} else if n == 0 {
		if err := ClaimTx(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, storeKey, p.principal, p.key, ans.Status, hb, ans.Body); err != nil {
			return fmt.Errorf("idempotency answer: %w", err)
		}
	}
	p.mu.Lock()
	p.answered = &ans
	p.mu.Unlock()
	return nil
}

// storeAnswerOnce stores a complete answer unless the key exists; false
// means another request's answer is stored.
const storeAnswerOnce = `INSERT INTO idempotency_keys (principal, key, method, path, request_hash, status, headers, body)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (principal, key) DO NOTHING RETURNING true`

// WrapTx makes h idempotent for requests that carry an Idempotency-Key, in
// the one commit of h's business transaction (see ClaimTx, AnswerTx,
// RenderWith). h's repositories must call ClaimTx and AnswerTx; a handler
// that answers 2xx without AnswerTx gets its answer stored in a commit of its
// own and no protection against concurrent duplicates: use Wrap for it.
func (s *Store) WrapTx(h httpx.HandlerFunc) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, err := readRequest(w, r)
		if err != nil {
			return err
		}
		if req == nil {
			return h(w, r)
		}
		ctx := r.Context()
		// A retry after the first answer: no business transaction at all.
		if done, err := s.replayIfStored(ctx, w, req); done || err != nil {
			return err
		}
		timeout := s.ClaimTimeout
		if timeout <= 0 {
			timeout = time.Minute
		}
		p := &pending{request: *req, method: r.Method, path: r.URL.Path, claimTimeout: timeout}
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		pr := r.WithContext(context.WithValue(ctx, pendingKey{}, p))
		herr := h(rec, pr)
		p.mu.Lock()
		taken, answered := p.taken, p.answered
		p.mu.Unlock()
		if herr != nil && !taken && !rec.wrote {
			// The usual error answer (and log line); not for ErrKeyTaken,
			// which is no failure: the request is answered by a replay.
			httpx.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return herr }).ServeHTTP(rec, pr)
		}
		switch {
		case taken:
			return s.replay(ctx, w, req.principal, req.key, req.hash)
		case rec.status >= 500:
			// The business transaction rolled back: nothing stored, a retry runs again.
			return writeAnswer(w, Answer{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}, rec.header)
		case answered != nil && answered.Status == rec.status:
			// Committed with the business transaction: send the stored bytes.
			return writeAnswer(w, *answered, rec.header)
		}
		// A refusal (or a handler that does not call AnswerTx): the business
		// transaction stored nothing, so store the answer now, unless a
		// concurrent request's answer got there first.
		ans := Answer{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}
		hb, err := json.Marshal(storedHeaders(ans.Header))
		if err != nil {
			return err
		}
		var inserted bool
		err = s.DB.GetContext(context.WithoutCancel(ctx), &inserted, storeAnswerOnce,
			req.principal, req.key, r.Method, r.URL.Path, req.hash, ans.Status, hb, ans.Body)
		if errors.Is(err, sql.ErrNoRows) {
			return s.replay(ctx, w, req.principal, req.key, req.hash)
		}
		if err != nil {
			s.log().Warn("store idempotency key", "err", err)
		}
		return writeAnswer(w, ans, rec.header)
	}
}

// replayIfStored replays a stored answer for req, if there is one.
func (s *Store) replayIfStored(ctx context.Context, w http.ResponseWriter, req *request) (bool, error) {
	var prev stored
	err := s.DB.GetContext(ctx, &prev, selectKey, req.principal, req.key)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("idempotency lookup: %w", err)
	}
	return true, s.replay(ctx, w, req.principal, req.key, req.hash)
}

// storedHeaders keeps the headers a replay repeats.
func storedHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"Content-Type", "Location", "ETag", "X-Content-Type-Options"} {
		if v := h.Get(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// writeAnswer sends a, after the handler's other headers.
// Write sends a. A handler that renders its answer as an Answer for
// RenderWith writes it with Write when the request carries no key, so that
// keyed and unkeyed requests get the very same bytes and headers.
func Write(w http.ResponseWriter, a Answer) error { return writeAnswer(w, a, nil) }

func writeAnswer(w http.ResponseWriter, a Answer, handlerHeader http.Header) error {
	for k, vs := range handlerHeader {
		w.Header()[k] = vs
	}
	for k, vs := range a.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
	return nil
}
