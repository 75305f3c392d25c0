// Package app holds followup's use cases.
package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

// ContactWriter stores contacts and channel consents.
type ContactWriter interface {
	Save(ctx context.Context, c contact.Contact) error
	SaveChannelConsent(ctx context.Context, c contact.ChannelConsent) error
}

// ContactReader reads contacts.
type ContactReader interface {
	Get(ctx context.Context, patientID uuid.UUID) (contact.Contact, error)
}

// RecordContact keeps a patient's contact details and channel consents.
type RecordContact struct{}

// Handle validates and stores c through w.
func (RecordContact) Handle(ctx context.Context, w ContactWriter, c contact.Contact) error {
	c, err := contact.New(c)
	if err != nil {
		return err
	}
	return w.Save(ctx, c)
}

// RecordChannelConsent keeps a contact consent's state; consents of other
// kinds are not followup's business and are ignored.
type RecordChannelConsent struct{}

// Handle stores the consent through w when its kind is a contact channel.
func (RecordChannelConsent) Handle(ctx context.Context, w ContactWriter, kind string, c contact.ChannelConsent) error {
	ch, ok := contact.ChannelOfConsentKind(kind)
	if !ok {
		return nil
	}
	c.Channel = ch
	return w.SaveChannelConsent(ctx, c)
}
