// Package app holds followup's use cases.
package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

// ContactWriter stores contacts.
type ContactWriter interface {
	Save(ctx context.Context, c contact.Contact) error
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
