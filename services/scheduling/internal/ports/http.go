package ports

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
)

// HTTP serves scheduling's API.
type HTTP struct {
	Patients app.PatientReader
}

// Routes registers the routes with the roles each allows.
func (h HTTP) Routes(rt *httpx.Router) {
	rt.Handle("GET /v1/patients/{id}", h.getPatient,
		httpx.RoleFrontDesk, httpx.RoleNurse, httpx.RoleLab, httpx.RoleClinician, httpx.RoleAdmin)
}

type patientResponse struct {
	PatientID  string    `json:"patient_id"`
	FamilyName string    `json:"family_name"`
	GivenName  string    `json:"given_name"`
	BirthDate  string    `json:"birth_date"`
	Version    int64     `json:"version"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func (h HTTP) getPatient(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return httpx.BadRequest("the patient id is not a UUID", httpx.FieldError{Field: "id", Message: "must be a UUID"})
	}
	p, err := h.Patients.Get(r.Context(), id)
	if errors.Is(err, patientref.ErrNotFound) {
		return httpx.NotFound("scheduling has no such patient")
	}
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, patientResponse{PatientID: p.ID.String(), FamilyName: p.FamilyName,
		GivenName: p.GivenName, BirthDate: p.BirthDate.Format(time.DateOnly), Version: p.Version, UpdatedAt: p.UpdatedAt})
}
