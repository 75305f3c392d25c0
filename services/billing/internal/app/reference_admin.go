package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

// Errors of the reference admin API.
var (
	// ErrUnknownPriceList: no price list of the program and version starts
	// on the date given.
	ErrUnknownPriceList = errors.New("no such price list")
	// ErrUnknownPolicy: the program has no cancellation policy.
	ErrUnknownPolicy = errors.New("no cancellation policy for this program")
	// ErrUnknownProgram: a cancellation policy for a program billing has
	// no price list of (a typo would otherwise leave a policy nobody uses).
	ErrUnknownProgram = errors.New("no price list of this program")
	// ErrNothingToSupersede: supersedes names no list of the program and
	// version.
	ErrNothingToSupersede = errors.New("no price list to supersede starts on that date")
)

// StoredPriceList is a price list as stored, with when it last changed.
type StoredPriceList struct {
	policy.PriceList
	UpdatedAt time.Time
}

// StoredPolicy is a cancellation policy as stored, with when it last
// changed.
type StoredPolicy struct {
	policy.CancellationPolicy
	UpdatedAt time.Time
}

// PriceListEdit is what an edit of one program and version's lists
// stores: a new list, and lists whose end changes (nothing else of them
// is written: their prices stay as they were stored).
type PriceListEdit struct {
	Add   *policy.PriceList
	Close []policy.PriceList
}

// ReferenceAdmin stores the clinic's price lists and cancellation
// policies for the admin API.
type ReferenceAdmin interface {
	// PriceLists lists the stored lists, of a program and/or version when
	// not empty, by program, version and start.
	PriceLists(ctx context.Context, program, version string) ([]StoredPriceList, error)
	// PriceList is the list of the program and version starting on
	// validFrom, or ErrUnknownPriceList.
	PriceList(ctx context.Context, program, version string, validFrom time.Time) (StoredPriceList, error)
	// EditPriceLists locks the program and version's lists (so two edits
	// of them serialise), gives the stored ones to edit, stores what edit
	// returns and returns the program and version's lists as stored then,
	// all in one transaction. A request with an Idempotency-Key under
	// idempotency.WrapTx claims its key first in that transaction and
	// stores its answer last (rendered from those lists), or gets
	// idempotency.ErrKeyTaken when a concurrent request with the key
	// committed first.
	EditPriceLists(ctx context.Context, program, version string, now time.Time,
		edit func(stored []policy.PriceList) (PriceListEdit, error)) ([]StoredPriceList, error)
	// Policies lists the stored policies by program.
	Policies(ctx context.Context) ([]StoredPolicy, error)
	// Policy is the program's policy, or ErrUnknownPolicy.
	Policy(ctx context.Context, program string) (StoredPolicy, error)
	// PutPolicy stores p as its program's policy (ErrUnknownProgram for a
	// program without a price list) and reports whether it is new.
	PutPolicy(ctx context.Context, p policy.CancellationPolicy, now time.Time) (bool, error)
}

// PriceLists edits the price lists. Prices never change in place: a change
// from a date is a new list from that date, the previous one closed the
// day before; and no edit touches the days up to today (the clinic's
// date), on which courses may have been invoiced. A course keeps the
// prices it was invoiced with (courses.prices, its invoices' lines) in any
// case; these rules keep the lists themselves an honest history.
type PriceLists struct {
	Store    ReferenceAdmin
	Calendar clock.Calendar
}

// Add stores pl, a new list from today or later that overlaps no other
// list of its program and version (an *policy.OverlapError naming it).
// With a non-zero supersedes, the list of the program and version
// starting that day is first closed the day before pl starts, in the same
// transaction: the caller names the list it replaces, so a mistyped
// version is an overlap refused rather than a list silently closed.
//
// It returns the list as stored, read in the transaction that added it.
func (p PriceLists) Add(ctx context.Context, pl policy.PriceList, supersedes time.Time) (StoredPriceList, error) {
	today, now := p.Calendar.Today(), p.Calendar.Now()
	after, err := p.Store.EditPriceLists(ctx, pl.Program, pl.ProtocolVersion, now, func(stored []policy.PriceList) (PriceListEdit, error) {
		var e PriceListEdit
		if !supersedes.IsZero() {
			i := indexFrom(stored, supersedes)
			if i < 0 {
				return e, fmt.Errorf("%s/%s from %s: %w", pl.Program, pl.ProtocolVersion, supersedes.Format(time.DateOnly), ErrNothingToSupersede)
			}
			closed, err := policy.Supersede(stored[i], pl, today)
			if err != nil {
				return e, err
			}
			stored[i] = closed
			e.Close = append(e.Close, closed)
		}
		if err := policy.CheckNew(pl, stored, today); err != nil {
			return e, err
		}
		e.Add = &pl
		return e, nil
	})
	if err != nil {
		return StoredPriceList{}, err
	}
	return AddedList(after, pl)
}

// AddedList is pl as stored, found among after, the lists EditPriceLists
// returned for the edit that added it. Not finding it is a bug (a 500),
// not a refusal.
func AddedList(after []StoredPriceList, pl policy.PriceList) (StoredPriceList, error) {
	for _, s := range after {
		if s.Program == pl.Program && s.ProtocolVersion == pl.ProtocolVersion && s.ValidFrom.Equal(pl.ValidFrom) {
			return s, nil
		}
	}
	return StoredPriceList{}, fmt.Errorf("price list %s/%s from %s is not among the lists its edit stored",
		pl.Program, pl.ProtocolVersion, pl.ValidFrom.Format(time.DateOnly))
}

// Close ends the list of the program and version starting on validFrom
// on validTo (included): sooner than it ends now, and today at the
// earliest.
func (p PriceLists) Close(ctx context.Context, program, version string, validFrom, validTo time.Time) (policy.PriceList, error) {
	today, now := p.Calendar.Today(), p.Calendar.Now()
	var out policy.PriceList
	_, err := p.Store.EditPriceLists(ctx, program, version, now, func(stored []policy.PriceList) (PriceListEdit, error) {
		i := indexFrom(stored, validFrom)
		if i < 0 {
			return PriceListEdit{}, fmt.Errorf("%s/%s from %s: %w", program, version, validFrom.Format(time.DateOnly), ErrUnknownPriceList)
		}
		closed, err := stored[i].CloseOn(validTo, today)
		if err != nil {
			return PriceListEdit{}, err
		}
		out = closed
		return PriceListEdit{Close: []policy.PriceList{closed}}, nil
	})
	return out, err
}

func indexFrom(lists []policy.PriceList, validFrom time.Time) int {
	for i, l := range lists {
		if l.ValidFrom.Equal(validFrom) {
			return i
		}
	}
	return -1
}
