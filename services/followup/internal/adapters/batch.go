package adapters

import (
	"context"
	"sync"
)

// batcher runs the requests that arrive while a batch is in flight as the
// next batch, in one call of run (one transaction): group commit, done in
// the application because lib/pq has no pipelining and each statement is a
// round trip. With 100,000 reminders due, one claim transaction and one
// record transaction per reminder spent most of the machine on round trips
// and commits; a batch runs the same statements once, over arrays.
//
// There is no goroutine of its own: the first caller to find no batch in
// flight leads, runs the batch (its own request and all queued at that
// moment) and, when it is done, hands the lead to the first request queued
// meanwhile; every caller thus runs at most one batch, in its own goroutine
// and context. No library here does that for database/sql (batching
// libraries run a goroutine of their own and time windows), and it is 60
// lines.
//
// A panic in run (a test's crash hook) reaches every caller of the batch, as
// a crash would have stopped them all; the transaction has rolled back.
type batcher[Req, Res any] struct {
	max int
	run func(ctx context.Context, reqs []Req) ([]Res, error)

	mu      sync.Mutex
	queue   []*pending[Req, Res]
	leading bool
}

type pending[Req, Res any] struct {
	req  Req
	done chan batchOutcome[Res] // the result, when another led the batch
	lead chan struct{}          // closed when this request must lead the next batch
}

type batchOutcome[Res any] struct {
	res   Res
	err   error
	panic any
}

// do runs req in a batch and returns its result.
func (b *batcher[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	p := &pending[Req, Res]{req: req, done: make(chan batchOutcome[Res], 1), lead: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.leading {
		b.mu.Unlock()
		select {
		case o := <-p.done:
			if o.panic != nil {
				panic(o.panic)
			}
			return o.res, o.err
		case <-p.lead:
		}
		b.mu.Lock()
	}
	b.leading = true
	n := min(len(b.queue), max(b.max, 1))
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	b.mu.Unlock()
	return b.lead(ctx, p, batch)
}

// lead runs batch (which holds self) and hands on the lead.
func (b *batcher[Req, Res]) lead(ctx context.Context, self *pending[Req, Res], batch []*pending[Req, Res]) (res Res, err error) {
	var out []batchOutcome[Res]
	defer func() {
		p := recover()
		for i, q := range batch {
			switch {
			case p != nil:
				q.done <- batchOutcome[Res]{panic: p}
			case i < len(out):
				q.done <- out[i]
			}
		}
		b.mu.Lock()
		if len(b.queue) > 0 {
			close(b.queue[0].lead)
		} else {
			b.leading = false
		}
		b.mu.Unlock()
		if p != nil {
			panic(p)
		}
		o := <-self.done
		res, err = o.res, o.err
	}()
	reqs := make([]Req, len(batch))
	for i, q := range batch {
		reqs[i] = q.req
	}
	results, runErr := b.run(ctx, reqs)
	out = make([]batchOutcome[Res], len(batch))
	for i := range batch {
		if runErr != nil {
			out[i].err = runErr
			continue
		}
		out[i].res = results[i]
	}
	return res, err
}
