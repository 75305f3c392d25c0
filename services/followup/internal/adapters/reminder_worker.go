package adapters

import (
	"context"

	"github.com/riverqueue/river"
)

// ReminderWorker runs a reminder's job when it comes due, through the
// Sender. Quiet hours snooze it to their end; a failed attempt returns an
// error so River retries it with backoff.
//
// The job is completed by River after Work returns (River's completer
// batches completions), not in the transaction that ends the reminder:
// River's JobCompleteTx plans and runs its completion query once per job,
// and at 100,000 due reminders that query alone cost the database more than
// the reminders' own work (measured with pg_stat_statements: ~1.7 ms a
// reminder of 2 cores). Nothing depends on the two committing together: a
// job whose completion a crash lost is rescued and run again, and its claim
// finds the reminder ended and sends nothing.
type ReminderWorker struct {
	river.WorkerDefaults[ReminderArgs]
	Sender *Sender
}

// Work delivers the reminder.
func (w *ReminderWorker) Work(ctx context.Context, job *river.Job[ReminderArgs]) error {
	res, err := w.Sender.Deliver(ctx, job.Args.ReminderID, job.Args.Version)
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
