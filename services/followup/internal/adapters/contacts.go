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

	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

type contactRow struct {
	PatientID         uuid.UUID      `db:"patient_id"`
	Phone             sql.NullString `db:"phone"`
	Email             sql.NullString `db:"email"`
	PreferredLanguage string         `db:"preferred_language"`
	TimeZone          string         `db:"time_zone"`
	SMSConsent        bool           `db:"sms_consent"`
	EmailConsent      bool           `db:"email_consent"`
	Version           int64          `db:"version"`
	UpdatedAt         time.Time      `db:"updated_at"`
}

const (
	// upsertContact keeps the newest version: a stale or repeated event changes nothing.
	upsertContact = `INSERT INTO patient_contacts (patient_id, phone, email, preferred_language, time_zone, version, updated_at)
		VALUES (:patient_id, :phone, :email, :preferred_language, :time_zone, :version, :updated_at)
		ON CONFLICT (patient_id) DO UPDATE SET phone = EXCLUDED.phone, email = EXCLUDED.email,
			preferred_language = EXCLUDED.preferred_language, time_zone = EXCLUDED.time_zone, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
		WHERE patient_contacts.version < EXCLUDED.version`
	selectContacts = `SELECT c.patient_id, c.phone, c.email, c.preferred_language, c.time_zone, c.version, c.updated_at,
			EXISTS (SELECT 1 FROM channel_consents k WHERE k.patient_id = c.patient_id AND k.channel = 'sms' AND k.active) AS sms_consent,
			EXISTS (SELECT 1 FROM channel_consents k WHERE k.patient_id = c.patient_id AND k.channel = 'email' AND k.active) AS email_consent
		FROM patient_contacts c`
	selectContact = selectContacts + ` WHERE c.patient_id = $1`
	// upsertChannelConsent keeps each consent's newest version.
	upsertChannelConsent = `INSERT INTO channel_consents (consent_id, patient_id, channel, active, version, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (consent_id) DO UPDATE SET active = EXCLUDED.active, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
		WHERE channel_consents.version < EXCLUDED.version`
)

func toDBContact(c contact.Contact) contactRow {
	return contactRow{PatientID: c.PatientID, Phone: sql.NullString{String: c.Phone, Valid: c.Phone != ""},
		Email: sql.NullString{String: c.Email, Valid: c.Email != ""}, PreferredLanguage: c.PreferredLanguage, TimeZone: c.TimeZone,
		SMSConsent: c.SMSConsent, EmailConsent: c.EmailConsent, Version: c.Version, UpdatedAt: c.UpdatedAt}
}

func toDomainContact(r contactRow) contact.Contact {
	return contact.Contact{PatientID: r.PatientID, Phone: r.Phone.String, Email: r.Email.String,
		PreferredLanguage: r.PreferredLanguage, TimeZone: r.TimeZone, SMSConsent: r.SMSConsent, EmailConsent: r.EmailConsent,
		Version: r.Version, UpdatedAt: r.UpdatedAt.UTC()}
}

// TxRepositories returns followup's repositories bound to tx, an event
// handler's transaction; service.New hands this factory to ports.Events.
// Its Visits need the job client: use Store.Tx for those.
func TxRepositories(tx *sqlx.Tx) app.Repositories { return txRepositories{tx: tx, s: &Store{}} }

type txRepositories struct {
	tx *sqlx.Tx
	s  *Store
}

func (r txRepositories) Contacts() app.ContactWriter { return contactsTx{tx: r.tx} }

// contactsTx writes contacts inside a transaction.
type contactsTx struct{ tx sqlx.ExtContext }

// Save stores c unless a newer version is stored.
func (r contactsTx) Save(ctx context.Context, c contact.Contact) error {
	if _, err := sqlx.NamedExecContext(ctx, r.tx, upsertContact, toDBContact(c)); err != nil {
		return fmt.Errorf("save contact %s: %w", c.PatientID, err)
	}
	return nil
}

// SaveChannelConsent records a contact consent's state unless a newer
// version of it is stored.
func (r contactsTx) SaveChannelConsent(ctx context.Context, c contact.ChannelConsent) error {
	if _, err := r.tx.ExecContext(ctx, upsertChannelConsent, c.ConsentID, c.PatientID, string(c.Channel), c.Active, c.Version, c.UpdatedAt); err != nil {
		return fmt.Errorf("save channel consent %s: %w", c.ConsentID, err)
	}
	return nil
}

// Contacts reads contacts (app.ContactReader).
type Contacts struct{ DB *sqlx.DB }

var _ app.ContactReader = Contacts{}

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
