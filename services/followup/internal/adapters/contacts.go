// Package adapters holds followup's Postgres repositories.
package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

type contactRow struct {
	PatientID         uuid.UUID      `db:"patient_id"`
	Phone             sql.NullString `db:"phone"`
	Email             sql.NullString `db:"email"`
	PreferredLanguage string         `db:"preferred_language"`
	SMSConsent        bool           `db:"sms_consent"`
	EmailConsent      bool           `db:"email_consent"`
	Version           int64          `db:"version"`
	UpdatedAt         time.Time      `db:"updated_at"`
}

const (
	// upsertContact keeps the newest version: a stale or repeated event changes nothing.
	upsertContact = `INSERT INTO patient_contacts (patient_id, phone, email, preferred_language, sms_consent, email_consent, version, updated_at)
		VALUES (:patient_id, :phone, :email, :preferred_language, :sms_consent, :email_consent, :version, :updated_at)
		ON CONFLICT (patient_id) DO UPDATE SET phone = EXCLUDED.phone, email = EXCLUDED.email,
			preferred_language = EXCLUDED.preferred_language, sms_consent = EXCLUDED.sms_consent,
			email_consent = EXCLUDED.email_consent, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
		WHERE patient_contacts.version < EXCLUDED.version`
	selectContact = `SELECT * FROM patient_contacts WHERE patient_id = $1`
)

func toDBContact(c contact.Contact) contactRow {
	return contactRow{PatientID: c.PatientID, Phone: sql.NullString{String: c.Phone, Valid: c.Phone != ""},
		Email: sql.NullString{String: c.Email, Valid: c.Email != ""}, PreferredLanguage: c.PreferredLanguage,
		SMSConsent: c.SMSConsent, EmailConsent: c.EmailConsent, Version: c.Version, UpdatedAt: c.UpdatedAt}
}

func toDomainContact(r contactRow) contact.Contact {
	return contact.Contact{PatientID: r.PatientID, Phone: r.Phone.String, Email: r.Email.String,
		PreferredLanguage: r.PreferredLanguage, SMSConsent: r.SMSConsent, EmailConsent: r.EmailConsent,
		Version: r.Version, UpdatedAt: r.UpdatedAt.UTC()}
}

// ContactsTx writes contacts inside an event handler's transaction.
type ContactsTx struct{ Tx *sqlx.Tx }

// Save stores c unless a newer version is stored.
func (r ContactsTx) Save(ctx context.Context, c contact.Contact) error {
	if _, err := r.Tx.NamedExecContext(ctx, upsertContact, toDBContact(c)); err != nil {
		return fmt.Errorf("save contact %s: %w", c.PatientID, err)
	}
	return nil
}

// Contacts reads contacts.
type Contacts struct{ DB *sqlx.DB }

// Get returns a patient's contact or contact.ErrNotFound.
func (r Contacts) Get(ctx context.Context, patientID uuid.UUID) (contact.Contact, error) {
	var row contactRow
	if err := r.DB.GetContext(ctx, &row, selectContact, patientID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return contact.Contact{}, contact.ErrNotFound
		}
		return contact.Contact{}, fmt.Errorf("get contact %s: %w", patientID, err)
	}
	return toDomainContact(row), nil
}
