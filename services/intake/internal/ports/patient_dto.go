package ports

import (
	"time"

	"github.com/clinicops/clinicops/pkg/httpx"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/seed"
)

type nationalIDJSON struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type addressJSON struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country"`
}

type emergencyContactJSON struct {
	Name         string `json:"name"`
	Relationship string `json:"relationship,omitempty"`
	Phone        string `json:"phone"`
}

type patientRequest struct {
	FamilyName        string                `json:"family_name"`
	GivenName         string                `json:"given_name"`
	BirthDate         string                `json:"birth_date"`
	Sex               string                `json:"sex"`
	Phone             string                `json:"phone,omitempty"`
	Email             string                `json:"email,omitempty"`
	PreferredLanguage string                `json:"preferred_language,omitempty"`
	TimeZone          string                `json:"time_zone,omitempty"`
	NationalID        *nationalIDJSON       `json:"national_id,omitempty"`
	Address           *addressJSON          `json:"address,omitempty"`
	EmergencyContact  *emergencyContactJSON `json:"emergency_contact,omitempty"`
}

// toDetails parses what the domain does not (dates, the id's type) and
// leaves the rules to the domain.
func (r patientRequest) toDetails() (patient.Details, error) {
	var l validation.List
	d := patient.Details{FamilyName: r.FamilyName, GivenName: r.GivenName, Sex: patient.Sex(r.Sex),
		Phone: r.Phone, Email: r.Email, PreferredLanguage: r.PreferredLanguage, TimeZone: r.TimeZone}
	switch bd, err := patient.ParseDate(r.BirthDate); {
	case r.BirthDate == "":
		l.Add("birth_date", "is required")
	case err != nil:
		l.Add("birth_date", "must be a date YYYY-MM-DD")
	default:
		d.BirthDate = bd
	}
	if r.NationalID != nil {
		d.NationalID = &patient.NationalID{Type: patient.NationalIDType(r.NationalID.Type), Value: r.NationalID.Value}
	}
	if a := r.Address; a != nil {
		d.Address = &patient.Address{Line1: a.Line1, Line2: a.Line2, City: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country}
	}
	if e := r.EmergencyContact; e != nil {
		d.EmergencyContact = &patient.EmergencyContact{Name: e.Name, Relationship: e.Relationship, Phone: e.Phone}
	}
	return d, l.Err()
}

// patientPatch changes the fields it names; absent fields stay. An optional
// field sent as null (or "") is cleared.
type patientPatch struct {
	FamilyName        httpx.Optional[string]               `json:"family_name"`
	GivenName         httpx.Optional[string]               `json:"given_name"`
	BirthDate         httpx.Optional[string]               `json:"birth_date"`
	Sex               httpx.Optional[string]               `json:"sex"`
	Phone             httpx.Optional[string]               `json:"phone"`
	Email             httpx.Optional[string]               `json:"email"`
	PreferredLanguage httpx.Optional[string]               `json:"preferred_language"`
	TimeZone          httpx.Optional[string]               `json:"time_zone"`
	NationalID        httpx.Optional[nationalIDJSON]       `json:"national_id"`
	Address           httpx.Optional[addressJSON]          `json:"address"`
	EmergencyContact  httpx.Optional[emergencyContactJSON] `json:"emergency_contact"`
}

func (p patientPatch) apply(d patient.Details) (patient.Details, error) {
	var l validation.List
	// Required fields may change but not be cleared.
	required := func(field string, o httpx.Optional[string], dst *string) {
		switch {
		case !o.Set:
		case o.Null:
			l.Add(field, "cannot be null")
		default:
			*dst = o.Value
		}
	}
	sex := string(d.Sex)
	required("family_name", p.FamilyName, &d.FamilyName)
	required("given_name", p.GivenName, &d.GivenName)
	required("preferred_language", p.PreferredLanguage, &d.PreferredLanguage)
	required("sex", p.Sex, &sex)
	d.Sex = patient.Sex(sex)
	if p.BirthDate.Set {
		bd, err := patient.ParseDate(p.BirthDate.Value)
		if p.BirthDate.Null || err != nil {
			l.Add("birth_date", "must be a date YYYY-MM-DD")
		}
		d.BirthDate = bd
	}
	if p.Phone.Set {
		d.Phone = p.Phone.Value
	}
	if p.Email.Set {
		d.Email = p.Email.Value
	}
	if p.TimeZone.Set {
		d.TimeZone = p.TimeZone.Value // null or "": the clinic's zone
	}
	if p.NationalID.Set {
		d.NationalID = nil
		if v := p.NationalID.Value; !p.NationalID.Null {
			d.NationalID = &patient.NationalID{Type: patient.NationalIDType(v.Type), Value: v.Value}
		}
	}
	if p.Address.Set {
		d.Address = nil
		if a := p.Address.Value; !p.Address.Null {
			d.Address = &patient.Address{Line1: a.Line1, Line2: a.Line2, City: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country}
		}
	}
	if p.EmergencyContact.Set {
		d.EmergencyContact = nil
		if e := p.EmergencyContact.Value; !p.EmergencyContact.Null {
			d.EmergencyContact = &patient.EmergencyContact{Name: e.Name, Relationship: e.Relationship, Phone: e.Phone}
		}
	}
	return d, l.Err()
}

type patientResponse struct {
	ID                string                `json:"id"`
	FamilyName        string                `json:"family_name"`
	GivenName         string                `json:"given_name"`
	BirthDate         string                `json:"birth_date"`
	Sex               string                `json:"sex"`
	Phone             string                `json:"phone,omitempty"`
	Email             string                `json:"email,omitempty"`
	PreferredLanguage string                `json:"preferred_language"`
	TimeZone          string                `json:"time_zone,omitempty"`
	NationalID        *nationalIDJSON       `json:"national_id,omitempty"`
	Address           *addressJSON          `json:"address,omitempty"`
	EmergencyContact  *emergencyContactJSON `json:"emergency_contact,omitempty"`
	Version           int64                 `json:"version"`
	CreatedAt         time.Time             `json:"created_at"`
	UpdatedAt         time.Time             `json:"updated_at"`
}

func toPatientResponse(p *patient.Patient) patientResponse {
	d := p.Details()
	out := patientResponse{
		ID: p.ID().String(), FamilyName: d.FamilyName, GivenName: d.GivenName, BirthDate: d.BirthDate.Format(time.DateOnly),
		Sex: string(d.Sex), Phone: d.Phone, Email: d.Email, PreferredLanguage: d.PreferredLanguage, TimeZone: d.TimeZone,
		Version: p.Version(), CreatedAt: p.CreatedAt(), UpdatedAt: p.UpdatedAt(),
	}
	if n := d.NationalID; n != nil {
		out.NationalID = &nationalIDJSON{Type: string(n.Type), Value: n.Value}
	}
	if a := d.Address; a != nil {
		out.Address = &addressJSON{a.Line1, a.Line2, a.City, a.Region, a.PostalCode, a.Country}
	}
	if e := d.EmergencyContact; e != nil {
		out.EmergencyContact = &emergencyContactJSON{e.Name, e.Relationship, e.Phone}
	}
	return out
}

func programResponse(p program.Program) seed.ProgramJSON { return seed.FromDomain(p) }
