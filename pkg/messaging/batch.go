package messaging

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"google.golang.org/protobuf/proto"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

// A batcher gives the events one consumer is handling at the same time one
// transaction (group commit): one multi-row insert into processed_events,
// the handlers, one commit. Under load that saves a BEGIN, a COMMIT and its
// disk flush per event; at low load a batch is one event and nothing waits.
// If any handler of a batch fails, the batch is rolled back and each event
// is handled again in a transaction of its own, so an error (and a retry or
// a dead letter) belongs to the event that caused it.
type batcher struct {
	consumer string
	db       *sqlx.DB
	max      int
	in       chan *batchItem
}

type batchItem struct {
	ctx  context.Context
	ev   Event[proto.Message]
	fn   HandlerFunc[proto.Message]
	done chan batchResult
}

type batchResult struct {
	duplicate bool
	err       error
}

// insertProcessedBatch records the batch's events and returns those not
// seen before.
const insertProcessedBatch = `INSERT INTO processed_events (consumer, event_id)
	SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id::text`

func newBatcher(consumer string, db *sqlx.DB, max int) *batcher {
	return &batcher{consumer: consumer, db: db, max: max, in: make(chan *batchItem)}
}

// submit hands an event to the batcher and waits for its transaction.
func (b *batcher) submit(ctx context.Context, ev Event[proto.Message], fn HandlerFunc[proto.Message]) (duplicate bool, err error) {
	it := &batchItem{ctx: ctx, ev: ev, fn: fn, done: make(chan batchResult, 1)}
	select {
	case b.in <- it:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case res := <-it.done:
		return res.duplicate, res.err
	case <-ctx.Done():
		// Not acked: redelivered, and processed_events absorbs it if it committed.
		return false, ctx.Err()
	}
}

// run takes whatever is waiting, up to max events, as one batch.
func (b *batcher) run(ctx context.Context) {
	for {
		var first *batchItem
		select {
		case <-ctx.Done():
			return
		case first = <-b.in:
		}
		items := []*batchItem{first}
	fill:
		for len(items) < b.max {
			select {
			case it := <-b.in:
				items = append(items, it)
			default:
				break fill
			}
		}
		b.process(ctx, items)
	}
}

func (b *batcher) process(ctx context.Context, items []*batchItem) {
	if len(items) > 1 {
		if dups, err := b.commit(ctx, items); err == nil {
			for i, it := range items {
				it.done <- batchResult{duplicate: dups[i]}
			}
			return
		}
	}
	for _, it := range items {
		dups, err := b.commit(ctx, []*batchItem{it})
		it.done <- batchResult{duplicate: err == nil && dups[0], err: err}
	}
}

func (b *batcher) commit(ctx context.Context, items []*batchItem) ([]bool, error) {
	dups := make([]bool, len(items))
	// A batch that started finishes even when shutdown begins.
	ctx = context.WithoutCancel(ctx)
	err := pgdb.InTx(ctx, b.db, nil, func(tx *sqlx.Tx) error {
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.ev.ID
		}
		var inserted []string
		if err := tx.SelectContext(ctx, &inserted, insertProcessedBatch, b.consumer, pq.Array(ids)); err != nil {
			return fmt.Errorf("record processed events: %w", err)
		}
		fresh := make(map[string]bool, len(inserted))
		for _, id := range inserted {
			fresh[id] = true
		}
		for i, it := range items {
			if !fresh[it.ev.ID] {
				dups[i] = true
				continue
			}
			delete(fresh, it.ev.ID) // a second copy in the same batch is a duplicate
			if err := callHandler(it, tx); err != nil {
				return err
			}
		}
		return nil
	})
	return dups, err
}

// callHandler runs one handler, turning a panic into an error (the batcher's
// goroutine must survive it).
func callHandler(it *batchItem, tx *sqlx.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic occurred: %v, stacktrace:\n%s", p, debug.Stack())
		}
	}()
	return it.fn(it.ctx, tx, it.ev)
}
