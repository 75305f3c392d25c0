package product

import (
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// InfectionTestWindowDays is how many calendar days before the collection
// the donor's infection tests may be: tests on the day of collection or up
// to 30 days before it are accepted; older ones, or tests after the
// collection, are not.
const InfectionTestWindowDays = 30

const maxDonorID = 64

// LotInput is a released donor lot as the lab registers it.
type LotInput struct {
	// DIN is the lot's own DIN (the donation); each dose has its own.
	DIN DIN
	// DonorID is the donor registry's opaque id of the donor (or cord
	// blood unit); never a name.
	DonorID     string
	CollectedAt time.Time
	// InfectionTestsOn is the date of the donor's infection tests (the
	// sample's date). Days are compared in CollectedAt's location: the
	// caller passes both in the clinic's zone.
	InfectionTestsOn time.Time
	// ExpiresAt is when the lot's doses may no longer be infused.
	ExpiresAt time.Time
}

// Lot is a released donor lot (NK allogeneic, MSC): its doses are Products
// of source donor, released at registration, allocated one per infusion.
// The lot itself does not change after registration; its doses do.
type Lot struct {
	id               uuid.UUID
	din              DIN
	donorID          string
	doses            int
	collectedAt      time.Time
	infectionTestsOn time.Time
	expiresAt        time.Time
	registeredAt     time.Time
	version          int64
	events           []Event
}

// RegisterLot registers a released donor lot and creates its doses, one
// Product per element of doses (ids and DINs from the caller, since DIN
// sequences are the database's), each released at now, unallocated,
// expiring with the lot, at version 1. The lot is at version 1 and has
// recorded LotRegistered, which lists the doses.
//
// Bad input is a *validation.Error naming every problem: id, din,
// donor_id (required, one line, at most 64 characters), doses (at least
// one; each with an id and a DIN, none repeated, none the lot's DIN),
// collected_at (required, not after now), infection_tests_on (required,
// from 30 days before the collection's date to that date),
// expires_at (after collected_at and after now: an expired lot cannot be
// registered).
func RegisterLot(id uuid.UUID, in LotInput, doses []Dose, now time.Time) (*Lot, []*Product, error) {
	var l validation.List
	if id == uuid.Nil {
		l.Add("id", "is required")
	}
	if in.DIN.IsZero() {
		l.Add("din", "is required")
	}
	in.DonorID = l.CheckText("donor_id", in.DonorID, true, maxDonorID, false)
	checkDoses(&l, in.DIN, doses)
	switch {
	case in.CollectedAt.IsZero():
		l.Add("collected_at", "is required")
	case in.CollectedAt.After(now):
		l.Add("collected_at", "is in the future")
	}
	switch {
	case in.InfectionTestsOn.IsZero():
		l.Add("infection_tests_on", "is required")
	case in.CollectedAt.IsZero():
	case !infectionTestsInWindow(in.InfectionTestsOn, in.CollectedAt):
		l.Add("infection_tests_on", "must be on the day of collection or up to 30 days before it")
	}
	switch {
	case in.ExpiresAt.IsZero():
		l.Add("expires_at", "is required")
	case !in.ExpiresAt.After(in.CollectedAt):
		l.Add("expires_at", "must be after collected_at")
	case !in.ExpiresAt.After(now):
		l.Add("expires_at", "has passed")
	}
	if err := l.Err(); err != nil {
		return nil, nil, err
	}
	lot := &Lot{
		id: id, din: in.DIN, donorID: in.DonorID, doses: len(doses),
		collectedAt: in.CollectedAt, infectionTestsOn: in.InfectionTestsOn, expiresAt: in.ExpiresAt,
		registeredAt: now, version: 1,
	}
	products := make([]*Product, len(doses))
	for i, d := range doses {
		products[i] = &Product{
			id: d.ProductID, din: d.DIN, source: protocol.Donor, lotID: id,
			status: StatusReleased, collectedAt: in.CollectedAt, releasedAt: now, expiresAt: in.ExpiresAt,
			version: 1, updatedAt: now,
		}
	}
	lot.events = append(lot.events, LotRegistered{LotID: id, DIN: in.DIN, DonorID: in.DonorID,
		Doses: append([]Dose(nil), doses...), CollectedAt: in.CollectedAt, InfectionTestsOn: in.InfectionTestsOn,
		ExpiresAt: in.ExpiresAt, Version: 1, At: now})
	return lot, products, nil
}

func checkDoses(l *validation.List, lotDIN DIN, doses []Dose) {
	if len(doses) == 0 {
		l.Add("doses", "must have at least one dose")
		return
	}
	ids := make(map[uuid.UUID]bool, len(doses))
	dins := make(map[DIN]bool, len(doses)+1)
	dins[lotDIN] = true
	for _, d := range doses {
		if d.ProductID == uuid.Nil || d.DIN.IsZero() {
			l.Add("doses", "each dose needs an id and a DIN")
			return
		}
		if ids[d.ProductID] || dins[d.DIN] {
			l.Add("doses", "ids and DINs must be distinct, and differ from the lot's DIN")
			return
		}
		ids[d.ProductID], dins[d.DIN] = true, true
	}
}

// infectionTestsInWindow reports whether the tests' date is the collection's
// date or up to InfectionTestWindowDays calendar days before it, in the
// collection's location.
func infectionTestsInWindow(tests, collected time.Time) bool {
	c := dateOf(collected, collected.Location())
	t := dateOf(tests, collected.Location())
	return !t.After(c) && !t.Before(c.AddDate(0, 0, -InfectionTestWindowDays))
}

func dateOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// UnmarshalLotFromDatabase rebuilds a stored lot; for repositories only.
func UnmarshalLotFromDatabase(id uuid.UUID, in LotInput, doses int, registeredAt time.Time, version int64) *Lot {
	return &Lot{
		id: id, din: in.DIN, donorID: in.DonorID, doses: doses, collectedAt: in.CollectedAt,
		infectionTestsOn: in.InfectionTestsOn, expiresAt: in.ExpiresAt, registeredAt: registeredAt, version: version,
	}
}

// ID is the lot's id.
func (l *Lot) ID() uuid.UUID { return l.id }

// DIN is the lot's DIN.
func (l *Lot) DIN() DIN { return l.din }

// DonorID is the donor registry's opaque id.
func (l *Lot) DonorID() string { return l.donorID }

// Doses is how many doses the lot was registered with.
func (l *Lot) Doses() int { return l.doses }

// CollectedAt is when the donation was collected.
func (l *Lot) CollectedAt() time.Time { return l.collectedAt }

// InfectionTestsOn is the date of the donor's infection tests.
func (l *Lot) InfectionTestsOn() time.Time { return l.infectionTestsOn }

// ExpiresAt is when the lot's doses expire.
func (l *Lot) ExpiresAt() time.Time { return l.expiresAt }

// RegisteredAt is when the lab registered the lot (its doses' release).
func (l *Lot) RegisteredAt() time.Time { return l.registeredAt }

// Version is the lot's version: 1, as a lot does not change.
func (l *Lot) Version() int64 { return l.version }
