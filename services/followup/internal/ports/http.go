package ports

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

// HTTP serves followup's API.
type HTTP struct {
	Contacts  app.ContactReader
	Reminders app.ReminderReader
}

// Routes registers the routes with the roles each allows.
func (h HTTP) Routes(rt *httpx.Router) {
	rt.Handle("GET /v1/patients/{id}/contact", h.getContact, httpx.RoleClinician, httpx.RoleNurse, httpx.RoleAdmin)
	rt.Handle("GET /v1/reminders", h.listReminders, httpx.RoleFrontDesk, httpx.RoleNurse, httpx.RoleClinician, httpx.RoleAdmin)
}

type contactResponse struct {
	PatientID         string            `json:"patient_id"`
	PreferredLanguage string            `json:"preferred_language"`
	TimeZone          *string           `json:"time_zone"`
	Channels          []contact.Channel `json:"channels"`
	Version           int64             `json:"version"`
	UpdatedAt         time.Time         `json:"updated_at"`
}

func (h HTTP) getContact(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return httpx.BadRequest("the patient id is not a UUID", httpx.FieldError{Field: "id", Message: "must be a UUID"})
	}
	c, err := h.Contacts.Get(r.Context(), id)
	if errors.Is(err, contact.ErrNotFound) {
		return httpx.NotFound("followup has no contact details for this patient")
	}
	if err != nil {
		return err
	}
	channels := c.Channels()
	if channels == nil {
		channels = []contact.Channel{}
	}
	var zone *string
	if c.TimeZone != "" {
		zone = &c.TimeZone
	}
	return httpx.WriteJSON(w, http.StatusOK, contactResponse{PatientID: c.PatientID.String(),
		PreferredLanguage: c.PreferredLanguage, TimeZone: zone, Channels: channels, Version: c.Version, UpdatedAt: c.UpdatedAt})
}
