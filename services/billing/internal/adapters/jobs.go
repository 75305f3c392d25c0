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
	"github.com/clinicops/clinicops/services/billing/internal/app"
)

// OverdueCheckArgs is the durable job that marks an invoice overdue the
// day after its due date if money is still owed. It is inserted in the
// transaction that issues the invoice; the unique key (the invoice) makes
// a repeated insert a no-op.
type OverdueCheckArgs struct {
	InvoiceID uuid.UUID `json:"invoice_id" river:"unique"`
}

// Kind is the River job kind.
func (OverdueCheckArgs) Kind() string { return "billing.overdue_check" }

type jobsTx txRepositories

// OverdueCheck schedules the check at at.
func (r jobsTx) OverdueCheck(ctx context.Context, invoiceID uuid.UUID, at time.Time) error {
	if r.s.Jobs == nil {
		return fmt.Errorf("overdue check: the job client is not set")
	}
	if _, err := r.s.Jobs.InsertTx(ctx, r.tx, OverdueCheckArgs{InvoiceID: invoiceID},
		&river.InsertOpts{ScheduledAt: at, UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
		return fmt.Errorf("schedule overdue check of %s: %w", invoiceID, err)
	}
	return nil
}

// OverdueCheckWorker runs the check; the effect (the invoice overdue,
// InvoiceOverdue in the outbox) commits with the job's completion.
type OverdueCheckWorker struct {
	river.WorkerDefaults[OverdueCheckArgs]
	Store *Store
	App   *app.Billing
}

// Work marks the invoice overdue if it is still owed.
func (w *OverdueCheckWorker) Work(ctx context.Context, job *river.Job[OverdueCheckArgs]) error {
	return pgdb.InTx(ctx, w.Store.DB, nil, func(tx *sqlx.Tx) error {
		if err := w.App.MarkOverdue(ctx, w.Store.Tx(tx), job.Args.InvoiceID); err != nil {
			return err
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}
