package adapters

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// nextInvoiceNumber takes the year's row and the next number in it.
const nextInvoiceNumber = `INSERT INTO invoice_numbers (year, last) VALUES ($1, 1)
	ON CONFLICT (year) DO UPDATE SET last = invoice_numbers.last + 1 RETURNING last`

// NextInvoiceNumber hands out the year's next invoice number inside tx, as
// "INV-<year>-<six digits>". The year's row stays locked until tx ends, so
// numbers are taken one transaction at a time: a rolled-back transaction
// gives its number back and the committed numbers are gapless. Call it as
// late as possible in the issuing transaction (it serialises issuing).
func NextInvoiceNumber(ctx context.Context, tx *sqlx.Tx, year int) (string, error) {
	var n int64
	if err := tx.GetContext(ctx, &n, nextInvoiceNumber, year); err != nil {
		return "", fmt.Errorf("next invoice number of %d: %w", year, err)
	}
	return FormatInvoiceNumber(year, n), nil
}

// FormatInvoiceNumber is the printed form of a year's n-th invoice.
func FormatInvoiceNumber(year int, n int64) string { return fmt.Sprintf("INV-%04d-%06d", year, n) }
