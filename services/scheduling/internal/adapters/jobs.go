package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"

	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
)

// MissedCheckArgs is the durable job that marks an appointment missed when
// it was not checked in within the grace period after Start. It is
// inserted in the transaction that books or moves the appointment; the
// unique key (appointment, start) makes a repeated insert a no-op, and a
// job for a time the appointment has since left finds it moved and does
// nothing.
type MissedCheckArgs struct {
	AppointmentID uuid.UUID `json:"appointment_id" river:"unique"`
	Start         time.Time `json:"start" river:"unique"`
}

// Kind is the River job kind.
func (MissedCheckArgs) Kind() string { return "scheduling.missed_check" }

type jobsTx txRepositories

var _ app.Jobs = jobsTx{}

// MissedCheck schedules the check at start plus the grace period.
func (r jobsTx) MissedCheck(ctx context.Context, appointmentID uuid.UUID, start time.Time) error {
	if r.s.Jobs == nil {
		return fmt.Errorf("missed check: the job client is not set")
	}
	_, err := r.s.Jobs.InsertTx(ctx, r.tx, MissedCheckArgs{AppointmentID: appointmentID, Start: start.UTC()},
		&river.InsertOpts{ScheduledAt: start.Add(r.s.Config.Grace), UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return fmt.Errorf("schedule missed check of %s: %w", appointmentID, err)
	}
	return nil
}

// MissedCheckWorker runs the check: the effect (the appointment marked
// missed, AppointmentMissed in the outbox) commits in the same transaction
// that completes the job, so a crash in between runs it again and it
// changes nothing the second time.
type MissedCheckWorker struct {
	river.WorkerDefaults[MissedCheckArgs]
	Store *Store
	App   *app.Scheduling
}

// Work marks the appointment missed if it still waits at that start. A
// job that runs before start+grace by the service's clock (River's own
// clock and the database's may run a little ahead) snoozes until then
// instead of completing unheard.
func (w *MissedCheckWorker) Work(ctx context.Context, job *river.Job[MissedCheckArgs]) error {
	due := job.Args.Start.Add(w.App.Config.Grace)
	if now := w.App.Clock.Now(); now.Before(due) {
		return river.JobSnooze(due.Sub(now))
	}
	return pgdb.InTx(ctx, w.Store.DB, nil, func(tx *sqlx.Tx) error {
		if err := w.App.MarkMissed(ctx, w.Store.Tx(tx), job.Args.AppointmentID, job.Args.Start); err != nil {
			return err
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}
