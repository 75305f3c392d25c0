package product

import (
	"time"

	"github.com/google/uuid"
)

// Event is something that happened to a product (aggregate: Product, its
// ProductID and Version) or to a donor lot (aggregate: Lot, LotRegistered).
// The aggregate records its events as it changes; the repository writes
// them to the outbox in the transaction that stores it.
//
// Every product event carries the product's patient, course and cycle (zero
// for an unallocated donor dose), so that billing and follow-up need not
// look the product up.
type Event interface{ productEvent() }

// Collected: an autologous product was collected (a draw or an apheresis
// completed), at version 1.
type Collected struct {
	ProductID uuid.UUID
	DIN       DIN
	PatientID uuid.UUID
	CourseID  uuid.UUID
	Cycle     int
	Version   int64
	At        time.Time // the collection
}

// CultureStarted: the lab started the product's culture.
type CultureStarted struct {
	ProductID uuid.UUID
	DIN       DIN
	PatientID uuid.UUID
	CourseID  uuid.UUID
	Cycle     int
	Version   int64
	At        time.Time
}

// Released: the product passed QC with the measured values QC; it may be
// infused until ExpiresAt.
type Released struct {
	ProductID uuid.UUID
	DIN       DIN
	PatientID uuid.UUID
	CourseID  uuid.UUID
	Cycle     int
	Version   int64
	At        time.Time
	ExpiresAt time.Time
	QC        QC
}

// Failed: the product cannot be used (failed QC, the culture did not
// grow); Reason is a short code or phrase. The cycle must be re-planned.
type Failed struct {
	ProductID uuid.UUID
	DIN       DIN
	PatientID uuid.UUID
	CourseID  uuid.UUID
	Cycle     int
	Version   int64
	At        time.Time
	Reason    string
}

// Allocated: a donor dose of lot LotID was given to a patient's cycle.
type Allocated struct {
	ProductID uuid.UUID
	DIN       DIN
	LotID     uuid.UUID
	PatientID uuid.UUID
	CourseID  uuid.UUID
	Cycle     int
	Version   int64
	At        time.Time
	ExpiresAt time.Time
}

// Infused: the product passed the chain-of-identity check and was given in
// appointment AppointmentID; DoseCells is the dose actually given.
type Infused struct {
	ProductID     uuid.UUID
	DIN           DIN
	LotID         uuid.UUID // uuid.Nil for an autologous product
	PatientID     uuid.UUID
	CourseID      uuid.UUID
	Cycle         int
	AppointmentID uuid.UUID
	DoseCells     int64
	Version       int64
	At            time.Time
}

// Dose is one dose of a donor lot: its product id and DIN.
type Dose struct {
	ProductID uuid.UUID
	DIN       DIN
}

// LotRegistered: the lab registered a released donor lot and its doses
// (each a Product at version 1, released and unallocated, recording no
// event of its own: this one announces them). Version is the lot's.
type LotRegistered struct {
	LotID            uuid.UUID
	DIN              DIN
	DonorID          string
	Doses            []Dose
	CollectedAt      time.Time
	InfectionTestsOn time.Time
	ExpiresAt        time.Time
	Version          int64
	At               time.Time
}

func (Collected) productEvent()      {}
func (CultureStarted) productEvent() {}
func (Released) productEvent()       {}
func (Failed) productEvent()         {}
func (Allocated) productEvent()      {}
func (Infused) productEvent()        {}
func (LotRegistered) productEvent()  {}

// Events returns what happened to the product since it was created or
// loaded, oldest first; nothing for a product loaded and left unchanged.
func (p *Product) Events() []Event { return append([]Event(nil), p.events...) }

// Events returns what happened to the lot since it was registered or
// loaded; nothing for a lot loaded from the database.
func (l *Lot) Events() []Event { return append([]Event(nil), l.events...) }

// TakeEvents returns the events recorded since the last call (or the load)
// and forgets them: the repository writes each event exactly once, however
// often the product is saved in one transaction.
func (p *Product) TakeEvents() []Event {
	out := p.events
	p.events = nil
	return out
}
