package adapters

import (
	"context"

	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"

	"github.com/clinicops/clinicops/pkg/jobs"
)

// ReminderWorker runs a reminder's job when it comes due, through the
// Sender. The job completes in the transaction that ends the reminder;
// quiet hours snooze it to their end; a failed attempt returns an error so
// River retries it with backoff.
type ReminderWorker struct {
	river.WorkerDefaults[ReminderArgs]
	Sender *Sender
}

// Work delivers the reminder.
func (w *ReminderWorker) Work(ctx context.Context, job *river.Job[ReminderArgs]) error {
	res, err := w.Sender.Deliver(ctx, job.Args.ReminderID, job.Args.Version, func(ctx context.Context, tx *sqlx.Tx) error {
		return jobs.CompleteTx(ctx, tx, job)
	})
	switch {
	case err != nil:
		return err
	case !res.DeferUntil.IsZero():
		return river.JobSnooze(res.DeferUntil.Sub(w.Sender.Now()))
	case res.Retry != nil:
		return res.Retry
	}
	return nil
}
