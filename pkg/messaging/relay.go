package messaging

import (
	"context"
	stdsql "database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// DB is the service database holding the outbox table. The relay that
	// leads keeps one of its connections for as long as it leads.
	DB *sqlx.DB
	// Wake, shared with the process's Outbox (Outbox.WakeOnCommit), makes
	// the relay publish as soon as a transaction that wrote events commits.
	// Nil means polling only.
	Wake *Wake
	// JS publishes to JetStream.
	JS jetstream.JetStream
	// BatchSize caps the rows read and published at a time (default 500).
	BatchSize int
	// PollInterval is how often the leader reads the outbox without a wake:
	// that is how rows committed by another replica's process (whose relay
	// does not lead) or outside pgdb.InTx are published (default
	// DefaultPollInterval).
	PollInterval time.Duration
	// LeadInterval is how often a follower tries to become the leader
	// (default 1 s).
	LeadInterval time.Duration
	// RetryInterval is how long the relay rests after a failed round (NATS
	// or Postgres down, an event JetStream refuses) before the next one,
	// whatever wakes it, so that an outage costs a warning a second rather
	// than one per poll or per commit (default 1 s).
	RetryInterval time.Duration
	// PublishTimeout bounds waiting for JetStream acks of a batch (default 10 s).
	PublishTimeout time.Duration
	Log            *slog.Logger
	// AfterPublish, if set, runs after a batch was acknowledged by JetStream and
	// before its rows are deleted. Returning an error abandons the batch: the
	// rows stay and are published again (tests use it to crash the relay
	// between publishing and recording progress).
	AfterPublish func(published int) error
}

// Relay moves committed outbox rows to JetStream, in id order, with
// Nats-Msg-Id set to the event id so that JetStream drops the duplicates a
// crash between publish and delete would cause.
//
// Replicas of a service may all run a Relay; one leads and publishes. The
// leader holds a session-level advisory lock on a connection it keeps for
// itself, and does all its SQL on that connection: if the connection dies,
// Postgres drops the lock, the leader's next statement fails, and it steps
// down; followers try to take the lock every LeadInterval. No transaction is
// open while the leader waits for JetStream: it reads a batch (one
// statement), publishes it, then deletes the acknowledged prefix (one
// statement).
type Relay struct {
	cfg  RelayConfig
	wake *Wake

	// Only Run's goroutine touches these.
	leader  *stdsql.Conn // nil when following
	lastTry time.Time    // last attempt to become leader
}

// relayLock is the advisory lock key that makes one relay active per database.
const relayLock = pgdb.LockRelay

// The statements of a batch carry no bind parameters, so lib/pq sends each
// in one round trip (simple query protocol) instead of two.
const (
	selectOutboxBatch = `SELECT id, event_id, subject, payload, headers FROM outbox ORDER BY id LIMIT %d`
	deleteOutboxRows  = `DELETE FROM outbox WHERE id = ANY('{%s}'::bigint[])`
	tryRelayLock      = `SELECT pg_try_advisory_lock($1)`
	// The DELETE need not wait for a disk flush: if it is lost, the rows
	// are published again and JetStream drops them by Nats-Msg-Id (or
	// consumers by processed_events). The session is the leader's own.
	asyncCommit = `SET synchronous_commit = off`
)

// DefaultPollInterval bounds the delay of events no wake announces (see
// RelayConfig.PollInterval). An empty poll is one index probe on the
// leader's own connection; at 20 a second it costs the database little.
const DefaultPollInterval = 50 * time.Millisecond

// NewRelay returns a relay; call Run.
func NewRelay(cfg RelayConfig) *Relay {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.LeadInterval <= 0 {
		cfg.LeadInterval = time.Second
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	wake := cfg.Wake
	if wake == nil {
		wake = NewWake() // nobody pokes it: polling only
	}
	return &Relay{cfg: cfg, wake: wake}
}

// Run publishes until ctx is done, then makes a last attempt to flush what is
// pending (bounded by PublishTimeout), gives up leadership and returns nil.
func (r *Relay) Run(ctx context.Context) error {
	defer r.stepDown()
	ticker := time.NewTicker(r.cfg.PollInterval)
	defer ticker.Stop()
	for {
		if err := r.drain(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Log.Warn("outbox relay", "err", err)
			rest := time.NewTimer(r.cfg.RetryInterval)
			select {
			case <-ctx.Done():
			case <-rest.C:
			}
			rest.Stop()
		}
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.PublishTimeout)
			defer cancel()
			if err := r.drain(flushCtx); err != nil {
				r.cfg.Log.Warn("outbox final flush", "err", err)
			}
			return nil
		case <-r.wake.c:
		case <-ticker.C:
		}
	}
}

// drain publishes batches until the outbox is empty or an error occurs. A
// relay that does not lead tries to take the lead at most once per
// LeadInterval and otherwise does nothing. Only Run's goroutine calls it.
func (r *Relay) drain(ctx context.Context) error {
	if r.leader == nil {
		if err := r.tryLead(ctx); err != nil || r.leader == nil {
			return err
		}
	}
	for {
		more, err := r.publishBatch(ctx)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// tryLead takes the relay lock on a connection of its own, unless it tried
// less than LeadInterval ago.
func (r *Relay) tryLead(ctx context.Context) error {
	if time.Since(r.lastTry) < r.cfg.LeadInterval {
		return nil
	}
	r.lastTry = time.Now()
	conn, err := r.cfg.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("relay lock: %w", err)
	}
	var locked bool
	if err := conn.QueryRowContext(ctx, tryRelayLock, relayLock).Scan(&locked); err != nil {
		discard(conn)
		return fmt.Errorf("relay lock: %w", err)
	}
	if !locked {
		_ = conn.Close() // holds nothing: back to the pool
		return nil
	}
	if _, err := conn.ExecContext(ctx, asyncCommit); err != nil {
		discard(conn)
		return fmt.Errorf("relay session: %w", err)
	}
	r.leader = conn
	r.cfg.Log.Info("outbox relay leads")
	return nil
}

// stepDown gives up leadership by closing the leader's connection, which
// ends its session and so releases the lock.
func (r *Relay) stepDown() {
	if r.leader != nil {
		discard(r.leader)
		r.leader = nil
		r.lastTry = time.Time{} // a relay that lost its connection may retry at once
	}
}

// discard closes conn's session instead of returning it to the pool, so
// that no session-level state (the lock, settings) outlives leadership.
func discard(conn *stdsql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

type outboxRow struct {
	ID      int64  `db:"id"`
	EventID string `db:"event_id"`
	Subject string `db:"subject"`
	Payload []byte `db:"payload"`
	Headers []byte `db:"headers"`
}

// publishBatch publishes one batch as the leader. more reports whether the
// batch was full and fully published. Any database error ends leadership:
// the lock may be gone with the connection.
func (r *Relay) publishBatch(ctx context.Context) (more bool, err error) {
	rows, err := r.readBatch(ctx)
	if err != nil {
		r.stepDown()
		return false, err
	}
	if len(rows) == 0 {
		return false, nil
	}
	done, pubErr := r.publish(ctx, rows)
	if done > 0 && r.cfg.AfterPublish != nil {
		if err := r.cfg.AfterPublish(done); err != nil {
			return false, err
		}
	}
	if done > 0 {
		// Only the acknowledged prefix: a row whose publish failed or was
		// not confirmed stays and goes out again, after those before it.
		if _, err := r.leader.ExecContext(ctx, deleteQuery(rows[:done])); err != nil {
			r.stepDown()
			// The rows were published but not deleted: they go out again and
			// are de-duplicated by JetStream (Nats-Msg-Id) or processed_events.
			return false, errors.Join(pubErr, fmt.Errorf("delete published outbox rows: %w", err))
		}
	}
	return pubErr == nil && len(rows) == r.cfg.BatchSize, pubErr
}

func (r *Relay) readBatch(ctx context.Context) ([]outboxRow, error) {
	q := fmt.Sprintf(selectOutboxBatch, r.cfg.BatchSize)
	res, err := r.leader.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer func() { _ = res.Close() }()
	var rows []outboxRow
	if err := sqlx.StructScan(res, &rows); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return rows, nil
}

// deleteQuery deletes rows by id; the ids are integers formatted here, so
// the statement needs no bind parameter.
func deleteQuery(rows []outboxRow) string {
	ids := make([]byte, 0, 12*len(rows))
	for i, row := range rows {
		if i > 0 {
			ids = append(ids, ',')
		}
		ids = strconv.AppendInt(ids, row.ID, 10)
	}
	return fmt.Sprintf(deleteOutboxRows, ids)
}

// publish sends rows asynchronously and returns how many, from the first,
// were acknowledged: only that contiguous prefix is deleted, so order holds.
func (r *Relay) publish(ctx context.Context, rows []outboxRow) (int, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(rows))
	var sendErr error
	for _, row := range rows {
		msg, err := rowToNATS(row)
		if err != nil {
			sendErr = err
			break
		}
		f, err := r.cfg.JS.PublishMsgAsync(msg)
		if err != nil {
			sendErr = fmt.Errorf("publish %s: %w", row.Subject, err)
			break
		}
		futures = append(futures, f)
	}
	timeout := time.NewTimer(r.cfg.PublishTimeout)
	defer timeout.Stop()
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return i, errors.Join(sendErr, fmt.Errorf("publish %s: %w", rows[i].Subject, err))
		case <-timeout.C:
			return i, errors.Join(sendErr, fmt.Errorf("publish %s: timed out waiting for ack", rows[i].Subject))
		case <-ctx.Done():
			return i, ctx.Err()
		}
	}
	return len(futures), sendErr
}

func rowToNATS(row outboxRow) (*nats.Msg, error) {
	var headers map[string]string
	if err := json.Unmarshal(row.Headers, &headers); err != nil {
		return nil, fmt.Errorf("outbox row %d headers: %w", row.ID, err)
	}
	msg := nats.NewMsg(row.Subject)
	msg.Data = row.Payload
	for k, v := range headers {
		msg.Header.Set(k, v)
	}
	msg.Header.Set(HeaderMsgID, row.EventID)
	return msg, nil
}
