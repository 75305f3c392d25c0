// Package adapters holds intake's Postgres repositories. Every change and
// the events it causes commit in one transaction (outbox).
package adapters

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

// PatientRepository stores patients and writes their events to the outbox
// in the same transaction.
type PatientRepository struct {
	db     *sqlx.DB
	outbox *messaging.Outbox
}

// NewPatientRepository returns a repository over db.
func NewPatientRepository(db *sqlx.DB, outbox *messaging.Outbox) *PatientRepository {
	return &PatientRepository{db: db, outbox: outbox}
}

type patientRow struct {
	ID                uuid.UUID      `db:"id"`
	FamilyName        string         `db:"family_name"`
	GivenName         string         `db:"given_name"`
	BirthDate         time.Time      `db:"birth_date"`
	Sex               string         `db:"sex"`
	Phone             sql.NullString `db:"phone"`
	Email             sql.NullString `db:"email"`
	PreferredLanguage string         `db:"preferred_language"`
	TimeZone          sql.NullString `db:"time_zone"`
	NationalIDType    sql.NullString `db:"national_id_type"`
	NationalIDValue   sql.NullString `db:"national_id_value"`
	Address           []byte         `db:"address"`
	EmergencyContact  []byte         `db:"emergency_contact"`
	NameKey           string         `db:"name_key"`
	Version           int64          `db:"version"`
	CreatedAt         time.Time      `db:"created_at"`
	UpdatedAt         time.Time      `db:"updated_at"`
}

type addressJSON struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country"`
}

type emergencyJSON struct {
	Name         string `json:"name"`
	Relationship string `json:"relationship,omitempty"`
	Phone        string `json:"phone"`
}

const (
	patientColumns = `id, family_name, given_name, birth_date, sex, phone, email, preferred_language, time_zone,
		national_id_type, national_id_value, address, emergency_contact, name_key, version, created_at, updated_at`
	insertPatient = `INSERT INTO patients (id, family_name, given_name, birth_date, sex, phone, email, preferred_language, time_zone,
		national_id_type, national_id_value, address, emergency_contact, version, created_at, updated_at)
		VALUES (:id, :family_name, :given_name, :birth_date, :sex, :phone, :email, :preferred_language, :time_zone,
		:national_id_type, :national_id_value, :address, :emergency_contact, :version, :created_at, :updated_at)`
	updatePatient = `UPDATE patients SET family_name = :family_name, given_name = :given_name, birth_date = :birth_date,
		sex = :sex, phone = :phone, email = :email, preferred_language = :preferred_language, time_zone = :time_zone,
		national_id_type = :national_id_type, national_id_value = :national_id_value, address = :address,
		emergency_contact = :emergency_contact, version = :version, updated_at = :updated_at WHERE id = :id`
	selectPatient          = `SELECT ` + patientColumns + ` FROM patients WHERE id = $1`
	selectPatientForUpdate = selectPatient + ` FOR UPDATE`
	selectByIdentity       = `SELECT id FROM patients WHERE family_name = $1 AND given_name = $2 AND birth_date = $3 AND phone = $4`
	selectByNationalID     = `SELECT id FROM patients WHERE national_id_type = $1 AND national_id_value = $2`
	selectPatientExists    = `SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1)`
	identityConstraint     = "patients_identity_key"
	nationalIDConstraint   = "patients_national_id_key"
)

func toDBPatient(p *patient.Patient) (patientRow, error) {
	d := p.Details()
	row := patientRow{
		ID: p.ID(), FamilyName: d.FamilyName, GivenName: d.GivenName, BirthDate: d.BirthDate, Sex: string(d.Sex),
		Phone: nullString(d.Phone), Email: nullString(d.Email), PreferredLanguage: d.PreferredLanguage,
		TimeZone: nullString(d.TimeZone), Version: p.Version(), CreatedAt: p.CreatedAt(), UpdatedAt: p.UpdatedAt(),
	}
	if d.NationalID != nil {
		row.NationalIDType, row.NationalIDValue = nullString(string(d.NationalID.Type)), nullString(d.NationalID.Value)
	}
	var err error
	if d.Address != nil {
		a := d.Address
		if row.Address, err = json.Marshal(addressJSON{a.Line1, a.Line2, a.City, a.Region, a.PostalCode, a.Country}); err != nil {
			return row, err
		}
	}
	if d.EmergencyContact != nil {
		e := d.EmergencyContact
		if row.EmergencyContact, err = json.Marshal(emergencyJSON{e.Name, e.Relationship, e.Phone}); err != nil {
			return row, err
		}
	}
	return row, nil
}

func toDomainPatient(r patientRow) (*patient.Patient, error) {
	d := patient.Details{
		FamilyName: r.FamilyName, GivenName: r.GivenName, BirthDate: r.BirthDate.UTC(), Sex: patient.Sex(r.Sex),
		Phone: r.Phone.String, Email: r.Email.String, PreferredLanguage: r.PreferredLanguage,
		TimeZone: r.TimeZone.String,
	}
	if r.NationalIDValue.Valid {
		d.NationalID = &patient.NationalID{Type: patient.NationalIDType(r.NationalIDType.String), Value: r.NationalIDValue.String}
	}
	if len(r.Address) > 0 {
		var a addressJSON
		if err := json.Unmarshal(r.Address, &a); err != nil {
			return nil, fmt.Errorf("patient %s address: %w", r.ID, err)
		}
		d.Address = &patient.Address{Line1: a.Line1, Line2: a.Line2, City: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country}
	}
	if len(r.EmergencyContact) > 0 {
		var e emergencyJSON
		if err := json.Unmarshal(r.EmergencyContact, &e); err != nil {
			return nil, fmt.Errorf("patient %s emergency contact: %w", r.ID, err)
		}
		d.EmergencyContact = &patient.EmergencyContact{Name: e.Name, Relationship: e.Relationship, Phone: e.Phone}
	}
	return patient.UnmarshalPatientFromDatabase(r.ID, d, r.Version, r.CreatedAt.UTC(), r.UpdatedAt.UTC()), nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Add stores a new patient and the events it recorded. A duplicate becomes
// *patient.DuplicateError naming the existing patient.
func (r *PatientRepository) Add(ctx context.Context, p *patient.Patient) error {
	row, err := toDBPatient(p)
	if err != nil {
		return err
	}
	// A request with an Idempotency-Key claims it first and stores its
	// answer last, in this transaction (no-ops without a key).
	err = idempotency.InTx(ctx, r.db, func(tx *sqlx.Tx) (any, error) {
		if _, err := tx.NamedExecContext(ctx, insertPatient, row); err != nil {
			return nil, pgdb.MapError(err)
		}
		return p, writeEvents(ctx, tx, r.outbox, p.Events())
	})
	if err != nil {
		if dup := r.duplicate(ctx, err, p); dup != nil {
			return dup
		}
		return fmt.Errorf("add patient %s: %w", p.ID(), err)
	}
	return nil
}

// duplicate turns a unique violation into *patient.DuplicateError.
func (r *PatientRepository) duplicate(ctx context.Context, err error, p *patient.Patient) error {
	var ce *pgdb.ConstraintError
	if !errors.As(err, &ce) {
		return nil
	}
	d := p.Details()
	var existing uuid.UUID
	var qerr error
	switch ce.Constraint {
	case nationalIDConstraint:
		qerr = r.db.GetContext(ctx, &existing, selectByNationalID, string(d.NationalID.Type), d.NationalID.Value)
		if qerr == nil {
			return &patient.DuplicateError{ExistingID: existing, Rule: patient.DuplicateRuleNationalID}
		}
	case identityConstraint:
		qerr = r.db.GetContext(ctx, &existing, selectByIdentity, d.FamilyName, d.GivenName, d.BirthDate, d.Phone)
		if qerr == nil {
			return &patient.DuplicateError{ExistingID: existing, Rule: patient.DuplicateRuleNameBirthDatePhone}
		}
	default:
		return nil
	}
	return fmt.Errorf("look up duplicate: %w", qerr)
}

// Get returns a patient or patient.ErrNotFound.
func (r *PatientRepository) Get(ctx context.Context, id uuid.UUID) (*patient.Patient, error) {
	var row patientRow
	if err := r.db.GetContext(ctx, &row, selectPatient, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, patient.ErrNotFound
		}
		return nil, fmt.Errorf("get patient %s: %w", id, err)
	}
	return toDomainPatient(row)
}

// Update locks the patient, applies fn and stores the result with the
// events it recorded, all in one transaction; when fn records none (a no-op
// update), nothing is written.
func (r *PatientRepository) Update(ctx context.Context, id uuid.UUID, fn func(*patient.Patient) error) (*patient.Patient, error) {
	var out *patient.Patient
	err := pgdb.InTx(ctx, r.db, nil, func(tx *sqlx.Tx) error {
		var row patientRow
		if err := tx.GetContext(ctx, &row, selectPatientForUpdate, id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return patient.ErrNotFound
			}
			return err
		}
		p, err := toDomainPatient(row)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		out = p
		if len(p.Events()) == 0 {
			return nil // nothing happened: no write, no event
		}
		newRow, err := toDBPatient(p)
		if err != nil {
			return err
		}
		if _, err := tx.NamedExecContext(ctx, updatePatient, newRow); err != nil {
			return pgdb.MapError(err)
		}
		return writeEvents(ctx, tx, r.outbox, p.Events())
	})
	if err != nil {
		if out != nil {
			if dup := r.duplicate(ctx, err, out); dup != nil {
				return nil, dup
			}
		}
		return nil, fmt.Errorf("update patient %s: %w", id, err)
	}
	return out, nil
}

// A search cursor is the id of the last patient of a page, base64url
// encoded: no name or other personal data in URLs or logs. A name search
// resumes after that patient's current (name_key, id), read in the same
// statement. (Were the patient renamed between two pages, the next page
// resumes from the new name: the price of ids only.)
func encodeCursor(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func decodeCursor(s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.Nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(uuid.UUID{}) {
		return uuid.Nil, app.ErrBadCursor
	}
	id := uuid.UUID(b)
	if id == uuid.Nil {
		return uuid.Nil, app.ErrBadCursor
	}
	return id, nil
}

// likePrefix escapes LIKE metacharacters.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// Search returns one page of patients and the cursor of the next page ("" at
// the end). Every filter given must match. Pages follow an index: name
// searches in (name_key, id) order, the others in id order. A cursor that
// does not decode, or names no patient, is app.ErrBadCursor.
func (r *PatientRepository) Search(ctx context.Context, q app.PatientSearch) ([]*patient.Patient, string, error) {
	cur, err := decodeCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	where := []string{"true"}
	args := []any{}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	order := "id"
	if q.NamePrefix != "" {
		key := strings.ToLower(strings.ReplaceAll(q.NamePrefix, " ", ""))
		where = append(where, "name_key LIKE "+arg(likePrefix(key)))
		order = "name_key, id"
		if cur != uuid.Nil {
			where = append(where, "(name_key, id) > (SELECT name_key, id FROM patients WHERE id = "+arg(cur)+")")
		}
	} else if cur != uuid.Nil {
		// Through the table, as above, so a cursor naming no patient gives
		// an empty page and then app.ErrBadCursor whatever the order.
		where = append(where, "id > (SELECT id FROM patients WHERE id = "+arg(cur)+")")
	}
	if q.Phone != "" {
		where = append(where, "phone = "+arg(q.Phone))
	}
	if q.NationalID != "" {
		where = append(where, "national_id_value = "+arg(strings.ToUpper(strings.TrimSpace(q.NationalID))))
	}
	query := `SELECT ` + patientColumns + ` FROM patients WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + order + ` LIMIT ` + arg(q.Limit+1)
	var rows []patientRow
	if err := r.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, "", fmt.Errorf("search patients: %w", err)
	}
	if len(rows) == 0 && cur != uuid.Nil {
		// An empty page is normal at the end; a cursor naming no patient is not.
		if err := r.cursorExists(ctx, cur); err != nil {
			return nil, "", err
		}
	}
	next := ""
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
		next = encodeCursor(rows[len(rows)-1].ID)
	}
	out := make([]*patient.Patient, 0, len(rows))
	for _, row := range rows {
		p, err := toDomainPatient(row)
		if err != nil {
			return nil, "", err
		}
		out = append(out, p)
	}
	return out, next, nil
}

// cursorExists is nil when the cursor's patient exists, app.ErrBadCursor
// when it does not.
func (r *PatientRepository) cursorExists(ctx context.Context, id uuid.UUID) error {
	var found bool
	if err := r.db.GetContext(ctx, &found, selectPatientExists, id); err != nil {
		return fmt.Errorf("check search cursor: %w", err)
	}
	if !found {
		return app.ErrBadCursor
	}
	return nil
}
