package adapters_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/migrations"
)

func cny(t *testing.T, fen int64) money.Money {
	t.Helper()
	m, err := money.New(fen, money.CNY)
	require.NoError(t, err)
	return m
}

// post books one posting built by fn through the account's Book, in one
// transaction.
func post(t *testing.T, db *sqlx.DB, patient uuid.UUID, fn func(b *ledger.Book) (ledger.Posting, error)) error {
	t.Helper()
	return pgdb.InTx(context.Background(), db, nil, func(tx *sqlx.Tx) error {
		l := adapters.Ledger{Tx: tx, Outbox: messaging.NewOutbox("billing", time.Now)}
		b, err := l.Book(context.Background(), patient)
		if err != nil {
			return err
		}
		p, err := fn(b)
		if err != nil {
			return err
		}
		if err := b.Post(p); err != nil {
			return err
		}
		return l.Append(context.Background(), p)
	})
}

// TestLedgerStoresWhatTheBookAccepts: postings round-trip through the
// database into the same Book; a posting the Book refuses (a refund above
// what was paid) is never stored; twenty payments posted at once on one
// account get sequence numbers 2..21 with no gap and no duplicate (the
// account row serialises them); Check finds nothing.
func TestLedgerStoresWhatTheBookAccepts(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	ctx := context.Background()
	patient := uuid.New()
	a, err := account.Open(patient, "CNY", 1, time.Now())
	require.NoError(t, err)
	open(t, db, a)
	require.NoError(t, post(t, db, patient, func(b *ledger.Book) (ledger.Posting, error) {
		return ledger.IssueInvoice(b.Header(uuid.New(), ledger.Refs{}, time.Now()), cny(t, 5_200_000), money.Zero(money.CNY))
	}))
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, post(t, db, patient, func(b *ledger.Book) (ledger.Posting, error) {
				return ledger.ReceivePayment(b.Header(uuid.New(), ledger.Refs{}, time.Now()), cny(t, 100_000), money.Zero(money.CNY))
			}))
		}()
	}
	wg.Wait()
	err = post(t, db, patient, func(b *ledger.Book) (ledger.Posting, error) {
		return ledger.GrantRefund(b.Header(uuid.New(), ledger.Refs{}, time.Now()), cny(t, 2_000_001), ledger.FromInvoice)
	})
	require.ErrorIs(t, err, ledger.ErrRefundAbovePaid)

	var book *ledger.Book
	require.NoError(t, pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) (err error) {
		book, err = adapters.Ledger{Tx: tx}.Book(ctx, patient)
		return err
	}))
	ps := book.Postings()
	require.Len(t, ps, 21)
	for i, p := range ps {
		require.EqualValues(t, i+1, p.State().Seq)
	}
	require.Empty(t, ledger.Check(ps))
	s := book.Summary()
	require.Equal(t, cny(t, 3_200_000), s.Owed)
	require.Equal(t, cny(t, 2_000_000), s.PaidIn)
}
