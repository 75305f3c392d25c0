package billingexport

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
)

func posting(id string, fen ...int64) *billingv1.LedgerPosted {
	ev := &billingv1.LedgerPosted{PostingId: id, Version: 1, OccurredAt: timestamppb.New(time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)), PatientId: "p", PostingSequence: 1,
		Kind: "payment_received", PaymentReference: `POS, "7"`}
	var total int64
	for _, f := range fen {
		ev.Lines = append(ev.Lines, &billingv1.PostingLine{Account: "receivable", Side: "credit", Amount: &billingv1.Money{Value: f, Currency: "CNY"}})
		total += f
	}
	ev.Lines = append([]*billingv1.PostingLine{{Account: "cash", Side: "debit", Amount: &billingv1.Money{Value: total, Currency: "CNY"}}}, ev.Lines...)
	return ev
}

func appendPosting(t *testing.T, j *Journal, ev *billingv1.LedgerPosted) {
	t.Helper()
	rows, err := Rows("event-"+ev.GetPostingId(), ev)
	require.NoError(t, err)
	require.NoError(t, j.Append(ev.GetPostingId(), rows))
}

// TestJournalCutAnywhereKeepsWholePostings: a journal cut at every byte
// of its last posting (a crash in the middle of the write) reopens as the
// journal before that posting, which can then be written again whole.
func TestJournalCutAnywhereKeepsWholePostings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.csv")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	appendPosting(t, j, posting("a", 100))
	require.NoError(t, j.Close())
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	j, err = OpenJournal(path)
	require.NoError(t, err)
	appendPosting(t, j, posting("b", 1, 2, 3))
	appendPosting(t, j, posting("b", 1, 2, 3)) // already there: nothing written
	require.NoError(t, j.Close())
	full, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Greater(t, len(full), len(before))

	for cut := len(before); cut < len(full); cut++ {
		require.NoError(t, os.WriteFile(path, full[:cut], 0o600))
		j, err := OpenJournal(path)
		require.NoError(t, err, "cut at %d", cut)
		require.True(t, j.Has("a"))
		require.False(t, j.Has("b"), "cut at %d", cut)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, string(before), string(got), "cut at %d", cut)
		appendPosting(t, j, posting("b", 1, 2, 3))
		require.NoError(t, j.Close())
		got, err = os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, string(full), string(got), "rewritten after a cut at %d", cut)
	}
	j, err = OpenJournal(path)
	require.NoError(t, err)
	require.Equal(t, 2, j.Postings())
	require.NoError(t, j.Close())
}

func TestJournalRefusesAnotherFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.csv")
	require.NoError(t, os.WriteFile(path, []byte("name,amount\nx,1\n"), 0o600))
	_, err := OpenJournal(path)
	require.ErrorIs(t, err, ErrNotAJournal)
}

func TestRows(t *testing.T) {
	rows, err := Rows("e1", posting("a", 1, 2_000_000))
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, []string{"20000.01", ""}, rows[0][8:10])
	require.Equal(t, []string{"", "0.01"}, rows[1][8:10])
	require.Equal(t, []string{"1", "3"}, rows[0][4:6])
	require.Equal(t, "e1", rows[2][len(Columns)-1])

	jpy := posting("j", 500)
	for _, l := range jpy.GetLines() {
		l.Amount.Currency = "JPY"
	}
	rows, err = Rows("e2", jpy)
	require.NoError(t, err)
	require.Equal(t, "500", rows[0][8])

	for name, ev := range map[string]*billingv1.LedgerPosted{
		"unbalanced":  func() *billingv1.LedgerPosted { e := posting("u", 5); e.Lines[0].Amount.Value = 6; return e }(),
		"one line":    {PostingId: "x", Lines: posting("x", 5).Lines[:1]},
		"unknown ccy": func() *billingv1.LedgerPosted { e := posting("c", 5); e.Lines[1].Amount.Currency = "XTS"; return e }(),
		"mixed":       func() *billingv1.LedgerPosted { e := posting("m", 5); e.Lines[1].Amount.Currency = "USD"; return e }(),
		"zero":        func() *billingv1.LedgerPosted { e := posting("z", 0); return e }(),
		"no side":     func() *billingv1.LedgerPosted { e := posting("s", 5); e.Lines[1].Side = ""; return e }(),
	} {
		_, err := Rows("e", ev)
		require.Error(t, err, name)
	}
}
