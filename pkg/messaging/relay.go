package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// DB is the service database holding the outbox table.
	DB *sqlx.DB
	// ListenDSN is the DSN used for LISTEN (commit-time wake-up). Empty means
	// polling only.
	ListenDSN string
	// JS publishes to JetStream.
	JS jetstream.JetStream
	// BatchSize caps the rows published per transaction (default 500).
	BatchSize int
	// PollInterval is the fallback when a notification is missed (default 1 s).
	PollInterval time.Duration
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
// crash between publish and delete would cause. Replicas of a service may all
// run a Relay: a transaction-scoped advisory lock lets one publish at a time.
type Relay struct {
	cfg       RelayConfig
	published atomic.Int64
}

// relayLock is the advisory lock key that makes one relay active per database.
const relayLock = 7246151

const (
	selectOutboxBatch = `SELECT id, event_id, subject, payload, headers FROM outbox ORDER BY id LIMIT $1`
	deleteOutboxRows  = `DELETE FROM outbox WHERE id = ANY($1)`
	tryRelayLock      = `SELECT pg_try_advisory_xact_lock($1)`
	asyncCommit       = `SET LOCAL synchronous_commit = off`
	outboxChannel     = "clinicops_outbox"
)

// NewRelay returns a relay; call Run.
func NewRelay(cfg RelayConfig) *Relay {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Relay{cfg: cfg}
}

// Published is the number of events this relay has published and deleted.
func (r *Relay) Published() int64 { return r.published.Load() }

// Run publishes until ctx is done, then makes a last attempt to flush what is
// pending (bounded by PublishTimeout) and returns nil.
func (r *Relay) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	if r.cfg.ListenDSN != "" {
		l := pq.NewListener(r.cfg.ListenDSN, 50*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
			if err != nil {
				r.cfg.Log.Warn("outbox listener", "event", int(ev), "err", err)
			}
			if ev == pq.ListenerEventReconnected {
				poke() // notifications sent while disconnected are lost
			}
		})
		if err := l.Listen(outboxChannel); err != nil {
			r.cfg.Log.Warn("outbox listen failed; polling only", "err", err)
		}
		defer func() { _ = l.Close() }()
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-l.Notify:
					poke()
				}
			}
		}()
	}
	ticker := time.NewTicker(r.cfg.PollInterval)
	defer ticker.Stop()
	for {
		if err := r.Drain(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Log.Warn("outbox relay", "err", err)
		}
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.PublishTimeout)
			defer cancel()
			if err := r.Drain(flushCtx); err != nil {
				r.cfg.Log.Warn("outbox final flush", "err", err)
			}
			return nil
		case <-wake:
		case <-ticker.C:
		}
	}
}

// Drain publishes batches until the outbox is empty, another relay holds the
// lock, or an error occurs.
func (r *Relay) Drain(ctx context.Context) error {
	for {
		n, more, err := r.publishBatch(ctx)
		if err != nil {
			return err
		}
		r.published.Add(int64(n))
		if !more {
			return nil
		}
	}
}

type outboxRow struct {
	ID      int64  `db:"id"`
	EventID string `db:"event_id"`
	Subject string `db:"subject"`
	Payload []byte `db:"payload"`
	Headers []byte `db:"headers"`
}

// publishBatch publishes one batch. more reports whether the batch was full.
func (r *Relay) publishBatch(ctx context.Context) (published int, more bool, err error) {
	err = pgdb.InTx(ctx, r.cfg.DB, nil, func(tx *sqlx.Tx) error {
		// The DELETE need not wait for a disk flush: if it is lost, the rows
		// are published again and JetStream drops them by Nats-Msg-Id.
		if _, err := tx.ExecContext(ctx, asyncCommit); err != nil {
			return fmt.Errorf("relay tx: %w", err)
		}
		var locked bool
		if err := tx.GetContext(ctx, &locked, tryRelayLock, relayLock); err != nil {
			return fmt.Errorf("relay lock: %w", err)
		}
		if !locked {
			return nil
		}
		var rows []outboxRow
		if err := tx.SelectContext(ctx, &rows, selectOutboxBatch, r.cfg.BatchSize); err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		done, pubErr := r.publish(ctx, rows)
		if done > 0 && r.cfg.AfterPublish != nil {
			if err := r.cfg.AfterPublish(done); err != nil {
				return err
			}
		}
		if done > 0 {
			ids := make([]int64, done)
			for i := range rows[:done] {
				ids[i] = rows[i].ID
			}
			if _, err := tx.ExecContext(ctx, deleteOutboxRows, pq.Array(ids)); err != nil {
				return fmt.Errorf("delete published outbox rows: %w", err)
			}
		}
		published = done
		more = pubErr == nil && len(rows) == r.cfg.BatchSize
		return pubErr
	})
	if err != nil && published > 0 {
		// The rows were published but not deleted: they go out again and are
		// de-duplicated by JetStream (Nats-Msg-Id) or by processed_events.
		published = 0
	}
	return published, more, err
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
