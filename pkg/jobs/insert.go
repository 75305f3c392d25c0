package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

var (
	// ErrJobRunning: MoveTx found the old job running. River only flags a
	// running job for cancellation, and as long as it runs it holds its unique
	// key, so the new job could not be inserted. Roll back and try again
	// later (an event handler's retry does exactly that).
	ErrJobRunning = errors.New("job is running")
	// ErrDuplicate: MoveTx's new job was skipped because another job in one
	// of its unique states has the same unique key. River's default unique
	// states include completed: a finished job keeps its key until River's
	// cleaner removes it, so give jobs that may be moved after they ran a
	// key that differs (e.g. the time they are for) or UniqueOpts.ByState
	// without completed.
	ErrDuplicate = errors.New("a job with the same unique key exists")
	// ErrNotFound: no job has that id.
	ErrNotFound = rivertype.ErrNotFound
)

// InsertTx inserts a job in the caller's transaction: it exists, and can
// run, only if tx commits. A zero opts.ScheduledAt means now; times come from
// the configured clock. With opts.UniqueOpts (or the args' InsertOpts), a job
// equal to a live one is not inserted: the result then holds the existing job
// and UniqueSkippedAsDuplicate.
func (c *Client) InsertTx(ctx context.Context, tx *sqlx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := c.river.InsertTx(ctx, tx.Tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("insert job %s: %w", args.Kind(), err)
	}
	return res, nil
}

// CancelTx cancels a job in the caller's transaction and returns its row. A
// job not running is cancelled at once and will never run; its unique key is
// free again (cancelled is not among River's unique states). A running job is
// only flagged: its worker's context is cancelled when its client polls for
// cancellations (every 2 s without LISTEN), and it stays running until the
// worker returns. A finished job is returned unchanged.
func (c *Client) CancelTx(ctx context.Context, tx *sqlx.Tx, id int64) (*rivertype.JobRow, error) {
	row, err := c.river.JobCancelTx(ctx, tx.Tx, id)
	if err != nil {
		return nil, fmt.Errorf("cancel job %d: %w", id, err)
	}
	return row, nil
}

// MoveTx replaces job oldID with a new job (typically the same args at a new
// ScheduledAt) in the caller's transaction: cancel plus insert, so either
// both happen or, if tx rolls back, the old job stays as it was. Moving a job
// that already finished inserts the new one, unless the finished job still
// holds the new one's unique key (see ErrDuplicate). It fails with
// ErrJobRunning if the old job is running, and with ErrDuplicate if the new
// job's unique key is taken; roll back then.
func (c *Client) MoveTx(ctx context.Context, tx *sqlx.Tx, oldID int64, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	old, err := c.CancelTx(ctx, tx, oldID)
	if err != nil {
		return nil, fmt.Errorf("move job: %w", err)
	}
	if old.State == rivertype.JobStateRunning {
		return nil, fmt.Errorf("move job %d: %w", oldID, ErrJobRunning)
	}
	res, err := c.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("move job %d: %w", oldID, err)
	}
	if res.UniqueSkippedAsDuplicate {
		return nil, fmt.Errorf("move job %d: %w (job %d)", oldID, ErrDuplicate, res.Job.ID)
	}
	return res, nil
}

// CompleteTx marks the running job completed in the worker's transaction.
// Commit the job's effect in that transaction and the effect happens exactly
// when the job completes: a process killed before the commit leaves neither
// (the job is rescued and runs again), one killed after leaves both. Call it
// from Work, with Work's ctx.
func CompleteTx[T river.JobArgs](ctx context.Context, tx *sqlx.Tx, job *river.Job[T]) error {
	if _, err := river.JobCompleteTx[*Driver](ctx, tx.Tx, job); err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
}
