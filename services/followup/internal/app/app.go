// Package app holds followup's use cases.
package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

// Repositories are followup's repositories bound to one transaction. An
// event handler gets them from the factory service.New wires (adapters.
// TxRepositories), so what it writes commits, or rolls back, together with
// the record that the event was processed.
type Repositories interface {
	Contacts() ContactWriter
	Visits() VisitWriter
}

// ContactWriter stores contacts and channel consents. Each keeps intake's
// newest version: a stale or repeated event changes nothing.
type ContactWriter interface {
	Save(ctx context.Context, c contact.Contact) error
	SaveChannelConsent(ctx context.Context, c contact.ChannelConsent) error
}

// ContactReader reads contacts.
type ContactReader interface {
	// Get returns the patient's contact or contact.ErrNotFound.
	Get(ctx context.Context, patientID uuid.UUID) (contact.Contact, error)
}

// RecordContact keeps a patient's contact details and channel consents.
type RecordContact struct{}

// Handle validates and stores c through the handler's repositories.
func (RecordContact) Handle(ctx context.Context, repos Repositories, c contact.Contact) error {
	c, err := contact.New(c)
	if err != nil {
		return err
	}
	return repos.Contacts().Save(ctx, c)
}

// RecordChannelConsent keeps a contact consent's state; consents of other
// kinds are not followup's business and are ignored.
type RecordChannelConsent struct{}

// Handle stores the consent through the handler's repositories when its
// kind is a contact channel.
func (RecordChannelConsent) Handle(ctx context.Context, repos Repositories, kind string, c contact.ChannelConsent) error {
	ch, ok := contact.ChannelOfConsentKind(kind)
	if !ok {
		return nil
	}
	c.Channel = ch
	return repos.Contacts().SaveChannelConsent(ctx, c)
}
