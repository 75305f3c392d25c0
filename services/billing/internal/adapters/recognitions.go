package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
	"github.com/clinicops/clinicops/services/billing/seed"
)

const (
	setCoursePrices    = `UPDATE courses SET prices = $2 WHERE course_id = $1`
	selectCoursePrices = `SELECT prices FROM courses WHERE course_id = $1 AND prices IS NOT NULL`
	insertRecognition  = `INSERT INTO recognitions (course_id, cycle, kind, amount, posting_id, at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`
	// The deposit, or for a course without one its first invoice.
	selectDeposit = `SELECT id, number FROM invoices WHERE course_id = $1 AND number IS NOT NULL
		ORDER BY kind = 'deposit' DESC, number LIMIT 1`
)

// SetPrices keeps the price list the course was invoiced with.
func (r courses) SetPrices(ctx context.Context, id uuid.UUID, pl policy.PriceList) error {
	pj := seed.PriceListJSON{Program: pl.Program, ProtocolVersion: pl.ProtocolVersion, ValidFrom: pl.ValidFrom.Format(time.DateOnly),
		Currency: pl.Currency.String(), CoursePrice: pl.CoursePrice.Amount(), Deposit: pl.Deposit.Amount(),
		LabFee: pl.LabFee.Amount(), PerInfusion: pl.PerInfusion.Amount(), TaxRateBP: pl.TaxRate}
	if !pl.ValidTo.IsZero() {
		pj.ValidTo = pl.ValidTo.Format(time.DateOnly)
	}
	if len(pl.Instalments) > 0 {
		pj.Instalments = map[string]seed.InstalmentJSON{}
		for _, phase := range slices.Sorted(maps.Keys(pl.Instalments)) {
			in := pl.Instalments[phase]
			pj.Instalments[phase] = seed.InstalmentJSON{Amount: in.Amount.Amount(), Count: in.Count}
		}
	}
	b, err := json.Marshal(pj)
	if err != nil {
		return err
	}
	if _, err := r.tx.ExecContext(ctx, setCoursePrices, id, b); err != nil {
		return fmt.Errorf("keep prices of course %s: %w", id, err)
	}
	return nil
}

// Prices returns the price list the course was invoiced with.
func (r courses) Prices(ctx context.Context, id uuid.UUID) (policy.PriceList, error) {
	var b []byte
	if err := r.tx.GetContext(ctx, &b, selectCoursePrices, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return policy.PriceList{}, app.ErrUnknownCourse
		}
		return policy.PriceList{}, fmt.Errorf("prices of course %s: %w", id, err)
	}
	var pj seed.PriceListJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return policy.PriceList{}, fmt.Errorf("prices of course %s: %w", id, err)
	}
	return pj.ToDomain()
}

// Recognise records a recognition once per course, cycle and kind, and
// publishes RevenueRecognised.
func (r courses) Recognise(ctx context.Context, rec app.Recognition) (bool, error) {
	res, err := r.tx.ExecContext(ctx, insertRecognition, rec.CourseID, rec.Cycle, rec.Kind, rec.Amount.Amount(), rec.PostingID, rec.At)
	if err != nil {
		return false, fmt.Errorf("record recognition: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if !rec.Amount.IsPositive() {
		return true, nil // nothing earned (a donor program has no lab fee): no money event
	}
	return true, writeMoneyEvents(ctx, txRepositories(r), rec.PatientID, []app.Recognition{rec})
}

// Deposit returns the course's deposit invoice id and number.
func (r courses) Deposit(ctx context.Context, courseID uuid.UUID) (uuid.UUID, string, error) {
	var row struct {
		ID     uuid.UUID `db:"id"`
		Number string    `db:"number"`
	}
	if err := r.tx.GetContext(ctx, &row, selectDeposit, courseID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return uuid.Nil, "", app.ErrNoInvoice
		}
		return uuid.Nil, "", fmt.Errorf("deposit of course %s: %w", courseID, err)
	}
	return row.ID, row.Number, nil
}
