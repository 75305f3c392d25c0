package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"

	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// CheckInOverdueArgs is the durable job that turns a check-in still
// unanswered at the end of its day into a task for staff. It is inserted
// with the check-in; the unique key (the check-in) makes a repeated insert
// a no-op.
type CheckInOverdueArgs struct {
	CheckInID uuid.UUID `json:"check_in_id" river:"unique"`
}

// Kind is the River job kind.
func (CheckInOverdueArgs) Kind() string { return "followup.check_in_overdue" }

// CheckInOverdueWorker runs the check; its effect (the check-in overdue,
// CheckInOverdue in the outbox) commits with the job's completion.
type CheckInOverdueWorker struct {
	river.WorkerDefaults[CheckInOverdueArgs]
	Store *ClinicalStore
	App   *app.Clinical
}

// Work marks the check-in overdue if it is still unanswered.
func (w *CheckInOverdueWorker) Work(ctx context.Context, job *river.Job[CheckInOverdueArgs]) error {
	return pgdb.InTx(ctx, w.Store.DB, nil, func(tx *sqlx.Tx) error {
		if err := w.App.MarkCheckInOverdue(ctx, w.Store.Tx(tx), job.Args.CheckInID); err != nil {
			return err
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// AlertArgs is the durable job that alerts the on-call clinician of an
// escalation or a serious adverse event. It is inserted in the transaction
// that records what it is about and runs after commit: the alert leaves
// only for what was stored, and is retried until a channel takes it.
type AlertArgs struct {
	AlertKind string    `json:"kind" river:"unique"`
	ID        uuid.UUID `json:"id" river:"unique"`
	PatientID uuid.UUID `json:"patient_id"`
}

// Kind is the River job kind.
func (AlertArgs) Kind() string { return "followup.on_call_alert" }

// AlertWorker sends the alert through the on-call channel. The message
// names the kind and ids only (what it is about is read in the API). A
// channel that refuses it is not retried (the job is cancelled, and its
// error stays on the job for staff); any other failure, an outcome in doubt
// included, is retried with River's backoff: for a safety alert a second
// message is better than none. The idempotency key is the same on every
// attempt, so an idempotent channel delivers it once.
type AlertWorker struct {
	river.WorkerDefaults[AlertArgs]
	Channel app.Channel
}

// Work sends the alert.
func (w *AlertWorker) Work(ctx context.Context, job *river.Job[AlertArgs]) error {
	a := job.Args
	msg := app.Message{
		IdempotencyKey: "followup-alert-" + a.AlertKind + "-" + a.ID.String(),
		To:             "on-call",
		Subject:        "clinicops follow-up: " + a.AlertKind + " needs the on-call clinician",
		Body: fmt.Sprintf("%s %s for patient %s needs the on-call clinician now. Open it in follow-up (/v1/escalations, /v1/adverse-events).",
			a.AlertKind, a.ID, a.PatientID),
		Language: "en",
		Kind:     a.AlertKind,
	}
	err := w.Channel.Send(ctx, msg)
	if errors.Is(err, app.ErrRefused) {
		return river.JobCancel(fmt.Errorf("alert %s %s refused by %s: %w", a.AlertKind, a.ID, w.Channel.Name(), err))
	}
	if err != nil {
		return fmt.Errorf("alert %s %s through %s: %w", a.AlertKind, a.ID, w.Channel.Name(), err)
	}
	return nil
}

// AddClinicalWorkers registers the clinical jobs' workers.
func AddClinicalWorkers(workers *river.Workers, store *ClinicalStore, c *app.Clinical, alert app.Channel) {
	river.AddWorker(workers, &CheckInOverdueWorker{Store: store, App: c})
	river.AddWorker(workers, &AlertWorker{Channel: alert})
}
