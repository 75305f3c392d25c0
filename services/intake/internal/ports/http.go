// Package ports adapts intake's use cases to HTTP.
package ports

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

// maxBody caps request bodies.
const maxBody = 64 << 10

// HTTP serves intake's API.
type HTTP struct {
	Register app.RegisterPatient
	Get      app.GetPatient
}

// Routes registers the routes with the roles each allows.
func (h HTTP) Routes(rt *httpx.Router) {
	rt.Handle("POST /v1/patients", h.registerPatient, httpx.RoleFrontDesk, httpx.RoleAdmin)
	rt.Handle("GET /v1/patients/{id}", h.getPatient,
		httpx.RoleFrontDesk, httpx.RoleNurse, httpx.RoleClinician, httpx.RoleBilling, httpx.RoleAdmin)
}

type patientRequest struct {
	FamilyName        string `json:"family_name"`
	GivenName         string `json:"given_name"`
	BirthDate         string `json:"birth_date"`
	Sex               string `json:"sex"`
	Phone             string `json:"phone,omitempty"`
	Email             string `json:"email,omitempty"`
	PreferredLanguage string `json:"preferred_language,omitempty"`
}

type patientResponse struct {
	ID                string    `json:"id"`
	FamilyName        string    `json:"family_name"`
	GivenName         string    `json:"given_name"`
	BirthDate         string    `json:"birth_date"`
	Sex               string    `json:"sex"`
	Phone             string    `json:"phone,omitempty"`
	Email             string    `json:"email,omitempty"`
	PreferredLanguage string    `json:"preferred_language"`
	Version           int64     `json:"version"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func toResponse(p *patient.Patient) patientResponse {
	d := p.Details()
	return patientResponse{
		ID: p.ID().String(), FamilyName: d.FamilyName, GivenName: d.GivenName, BirthDate: d.BirthDate.Format(time.DateOnly),
		Sex: string(d.Sex), Phone: d.Phone, Email: d.Email, PreferredLanguage: d.PreferredLanguage,
		Version: p.Version(), CreatedAt: p.CreatedAt(), UpdatedAt: p.UpdatedAt(),
	}
}

func (h HTTP) registerPatient(w http.ResponseWriter, r *http.Request) error {
	var req patientRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	var fields []httpx.FieldError
	birth, err := patient.ParseDate(req.BirthDate)
	if req.BirthDate == "" {
		fields = append(fields, httpx.FieldError{Field: "birth_date", Message: "is required"})
	} else if err != nil {
		fields = append(fields, httpx.FieldError{Field: "birth_date", Message: err.Error()})
	}
	if len(fields) > 0 {
		return httpx.Unprocessable("the patient is not valid", fields...)
	}
	p, err := h.Register.Handle(r.Context(), patient.Details{
		FamilyName: req.FamilyName, GivenName: req.GivenName, BirthDate: birth, Sex: patient.Sex(req.Sex),
		Phone: req.Phone, Email: req.Email, PreferredLanguage: req.PreferredLanguage,
	})
	if err != nil {
		return domainProblem(err)
	}
	w.Header().Set("Location", "/v1/patients/"+p.ID().String())
	w.Header().Set("ETag", etag(p.Version()))
	return httpx.WriteJSON(w, http.StatusCreated, toResponse(p))
}

func (h HTTP) getPatient(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return httpx.BadRequest("the patient id is not a UUID", httpx.FieldError{Field: "id", Message: "must be a UUID"})
	}
	p, err := h.Get.Handle(r.Context(), id)
	if err != nil {
		return domainProblem(err)
	}
	w.Header().Set("ETag", etag(p.Version()))
	return httpx.WriteJSON(w, http.StatusOK, toResponse(p))
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// domainProblem maps domain errors to problems; anything else is a 500.
func domainProblem(err error) error {
	var ve *patient.ValidationError
	var dup *patient.DuplicateError
	switch {
	case errors.As(err, &ve):
		fields := make([]httpx.FieldError, len(ve.Fields))
		for i, f := range ve.Fields {
			fields[i] = httpx.FieldError{Field: f.Field, Message: f.Message}
		}
		return httpx.Unprocessable("the patient is not valid", fields...)
	case errors.As(err, &dup):
		return httpx.Conflict("this patient is already registered").
			WithExtension("existing_patient_id", dup.ExistingID.String()).
			WithExtension("duplicate_rule", dup.Rule)
	case errors.Is(err, patient.ErrNotFound):
		return httpx.NotFound("no such patient")
	}
	return err
}
