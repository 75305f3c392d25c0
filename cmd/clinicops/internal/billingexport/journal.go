// Package billingexport is the reference consumer of billing's money
// events (docs/billing-events.md): it keeps a durable JetStream consumer
// on LedgerPosted and appends each posting to a CSV journal an accountant
// can import, one row per posting line, in the order billing committed
// them. The journal itself is the export's memory: it resumes where the
// file ends and never writes a posting twice.
package billingexport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

// Columns is the journal's header row. The rows of one posting are
// consecutive and share posting_id; line counts them 1..lines, so an
// importer (and the export on restart) can tell a posting cut short.
var Columns = []string{
	"posted_at", "patient_id", "posting_seq", "posting_id", "line", "lines", "kind", "account",
	"debit", "credit", "currency", "invoice_number", "credit_note_number", "payment_reference", "event_id",
}

const (
	colPostingID = 3
	colLine      = 4
	colLines     = 5
)

// Journal is the CSV file, opened for appending whole postings.
type Journal struct {
	f    *os.File
	seen map[string]bool
	rows int
}

// ErrNotAJournal: the file holds something other than this journal.
var ErrNotAJournal = errors.New("not a billing export journal")

// OpenJournal opens the journal at path, creating it with its header. A
// crash can leave the end of the file cut short: a row without its line
// end, or a posting with only some of its rows (they are written in one
// write, but a write is not atomic). That tail is removed, durably, before
// anything is appended, so the posting it belonged to is written again
// whole when its event is redelivered.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{f: f, seen: map[string]bool{}}
	if err := j.recover(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return j, nil
}

// recover reads the file, keeps its longest whole prefix of complete
// postings, and positions the file at its end.
func (j *Journal) recover() error {
	data, err := io.ReadAll(j.f)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return j.write([][]string{Columns})
	}
	good, err := j.scan(data)
	if err != nil {
		return err
	}
	if good < int64(len(data)) {
		if err := j.f.Truncate(good); err != nil {
			return fmt.Errorf("cut the unfinished tail: %w", err)
		}
		if err := j.f.Sync(); err != nil {
			return err
		}
	}
	_, err = j.f.Seek(good, io.SeekStart)
	return err
}

// scan returns the length of the file's prefix that ends with the last
// complete posting, and remembers the postings in it.
func (j *Journal) scan(data []byte) (int64, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = len(Columns)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil || !slices.Equal(header, Columns) {
		return 0, ErrNotAJournal
	}
	good := r.InputOffset()
	if data[good-1] != '\n' {
		return 0, ErrNotAJournal
	}
	var open string // the posting whose rows are being read
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		end := r.InputOffset()
		if err != nil || data[end-1] != '\n' {
			break // a row cut short: the tail goes
		}
		id, line, lines, ok := position(rec)
		if !ok {
			return 0, fmt.Errorf("%w: a row at byte %d is malformed", ErrNotAJournal, good)
		}
		if (line == 1) != (open == "") || (line > 1 && id != open) {
			break // a posting without its first rows, or an earlier one never finished
		}
		open = id
		j.rows++
		if line == lines {
			j.seen[id] = true
			open, good = "", end
		}
	}
	return good, nil
}

func position(rec []string) (id string, line, lines int, ok bool) {
	line, err1 := strconv.Atoi(rec[colLine])
	lines, err2 := strconv.Atoi(rec[colLines])
	if err1 != nil || err2 != nil || line < 1 || line > lines || rec[colPostingID] == "" {
		return "", 0, 0, false
	}
	return rec[colPostingID], line, lines, true
}

// Has reports whether the posting is in the journal.
func (j *Journal) Has(postingID string) bool { return j.seen[postingID] }

// Postings is the number of postings in the journal.
func (j *Journal) Postings() int { return len(j.seen) }

// Append writes one posting's rows in one write and makes them durable
// before it returns: only then may its event be acknowledged.
func (j *Journal) Append(postingID string, rows [][]string) error {
	if j.seen[postingID] {
		return nil
	}
	if err := j.write(rows); err != nil {
		return err
	}
	j.seen[postingID] = true
	j.rows += len(rows)
	return nil
}

func (j *Journal) write(rows [][]string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	if _, err := j.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	return nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }
