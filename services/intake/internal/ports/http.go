// Package ports adapts intake's use cases to HTTP.
package ports

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/internal/domain/validation"
)

// maxBody caps request bodies.
const maxBody = 64 << 10

// Roles by what they may do (issue 3): the front desk does everything;
// clinicians read everything and record screenings; billing sees patient
// identity and courses, never screening answers or consent details; admins
// read the audit log.
var (
	frontDesk      = []httpx.Role{httpx.RoleFrontDesk}
	readPatients   = []httpx.Role{httpx.RoleFrontDesk, httpx.RoleClinician, httpx.RoleBilling}
	readClinical   = []httpx.Role{httpx.RoleFrontDesk, httpx.RoleClinician}
	recordScreens  = []httpx.Role{httpx.RoleFrontDesk, httpx.RoleClinician}
	readPrograms   = httpx.Roles()
	readAuditRoles = []httpx.Role{httpx.RoleAdmin}
)

// HTTP serves intake's API.
type HTTP struct {
	Register    app.RegisterPatient
	Get         app.GetPatient
	Update      app.UpdatePatient
	Search      app.SearchPatients
	Programs    app.Programs
	Audit       app.AuditLog
	Idempotency *idempotency.Store
	Clinical    Clinical
	OpenAPI     []byte
}

// Routes registers the routes with the roles each allows.
func (h HTTP) Routes(rt *httpx.Router) {
	idem := h.Idempotency.Wrap
	rt.Handle("POST /v1/patients", idem(h.registerPatient), frontDesk...)
	rt.Handle("GET /v1/patients", h.searchPatients, readPatients...)
	rt.Handle("GET /v1/patients/{id}", h.getPatient, readPatients...)
	rt.Handle("PATCH /v1/patients/{id}", h.updatePatient, frontDesk...)
	rt.Handle("GET /v1/programs", h.listPrograms, readPrograms...)
	rt.Handle("GET /v1/audit", h.listAudit, readAuditRoles...)
	h.Clinical.Audit = h.auditExisting
	h.Clinical.routes(rt, idem)
	rt.Public("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		_, err := w.Write(h.OpenAPI)
		return err
	})
}

func (h HTTP) registerPatient(w http.ResponseWriter, r *http.Request) error {
	var req patientRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	d, err := req.toDetails()
	if err != nil {
		return problem(err)
	}
	p, err := h.Register.Handle(r.Context(), d)
	if err != nil {
		return problem(err)
	}
	w.Header().Set("Location", "/v1/patients/"+p.ID().String())
	w.Header().Set("ETag", etag(p.Version()))
	return httpx.WriteJSON(w, http.StatusCreated, toPatientResponse(p))
}

func (h HTTP) getPatient(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := h.Get.Handle(r.Context(), id)
	if err != nil {
		return problem(err)
	}
	if err := h.audit(r, "patient.read", id); err != nil {
		return err
	}
	w.Header().Set("ETag", etag(p.Version()))
	return httpx.WriteJSON(w, http.StatusOK, toPatientResponse(p))
}

func (h HTTP) updatePatient(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	match := r.Header.Get("If-Match")
	if match == "" {
		return httpx.PreconditionRequired("PATCH needs If-Match with the patient's ETag")
	}
	version, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(match, "W/"), `"`), 10, 64)
	if err != nil || version < 1 {
		return httpx.PreconditionFailed("If-Match is not an ETag of this patient")
	}
	var req patientPatch
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	var patchErr error
	p, err := h.Update.Handle(r.Context(), id, version, func(d patient.Details) patient.Details {
		d, patchErr = req.apply(d)
		return d
	})
	if patchErr != nil {
		return problem(patchErr)
	}
	if err != nil {
		return problem(err)
	}
	w.Header().Set("ETag", etag(p.Version()))
	return httpx.WriteJSON(w, http.StatusOK, toPatientResponse(p))
}

const (
	defaultLimit = 20
	maxLimit     = 100
)

func (h HTTP) searchPatients(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	for k := range qv {
		switch k {
		case "q", "phone", "national_id", "limit", "cursor":
		default:
			return httpx.BadRequest("unknown query parameter", httpx.FieldError{Field: k, Message: "is not a search parameter"})
		}
	}
	q := app.PatientSearch{NamePrefix: strings.TrimSpace(qv.Get("q")), Phone: strings.TrimSpace(qv.Get("phone")),
		NationalID: strings.TrimSpace(qv.Get("national_id")), Limit: defaultLimit, Cursor: qv.Get("cursor")}
	var fields []httpx.FieldError
	if q.NamePrefix == "" && q.Phone == "" && q.NationalID == "" {
		fields = append(fields, httpx.FieldError{Field: "q", Message: "give q, phone or national_id"})
	}
	if len([]rune(q.NamePrefix)) > 100 {
		fields = append(fields, httpx.FieldError{Field: "q", Message: "is longer than 100 characters"})
	}
	if q.Phone != "" && !patient.ValidPhone(q.Phone) {
		fields = append(fields, httpx.FieldError{Field: "phone", Message: "must be E.164, e.g. +8613800138000"})
	}
	if len(q.NationalID) > 64 {
		fields = append(fields, httpx.FieldError{Field: "national_id", Message: "is longer than 64 characters"})
	}
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			fields = append(fields, httpx.FieldError{Field: "limit", Message: "must be an integer from 1 to 100"})
		}
		q.Limit = n
	}
	if len(fields) > 0 {
		return httpx.BadRequest("the search is not valid", fields...)
	}
	found, next, err := h.Search.Handle(r.Context(), q)
	if errors.Is(err, app.ErrBadCursor) {
		return httpx.BadRequest("the cursor is not valid", httpx.FieldError{Field: "cursor", Message: "was not issued by this search"})
	}
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(found))
	items := make([]patientResponse, len(found))
	for i, p := range found {
		ids[i], items[i] = p.ID(), toPatientResponse(p)
	}
	if err := h.audit(r, "patient.search", ids...); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, page[patientResponse]{Items: items, NextCursor: nullable(next)})
}

func (h HTTP) listPrograms(w http.ResponseWriter, r *http.Request) error {
	progs, err := h.Programs.List(r.Context())
	if err != nil {
		return err
	}
	items := make([]any, len(progs))
	for i, p := range progs {
		items[i] = programResponse(p)
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (h HTTP) listAudit(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	for k := range qv {
		if k != "patient_id" && k != "cursor" {
			return httpx.BadRequest("unknown query parameter", httpx.FieldError{Field: k, Message: "is not an audit parameter"})
		}
	}
	id, err := uuid.Parse(qv.Get("patient_id"))
	if err != nil {
		return httpx.BadRequest("patient_id is required", httpx.FieldError{Field: "patient_id", Message: "must be a UUID"})
	}
	if _, err := h.Get.Handle(r.Context(), id); err != nil {
		return problem(err)
	}
	limit := maxLimit
	after := int64(0)
	if v := qv.Get("cursor"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return httpx.BadRequest("the cursor is not valid", httpx.FieldError{Field: "cursor", Message: "was not issued by this list"})
		}
	}
	entries, err := h.Audit.List(r.Context(), id, after, limit+1)
	if err != nil {
		return err
	}
	next := ""
	if len(entries) > limit {
		entries = entries[:limit]
		next = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	if entries == nil {
		entries = []app.AuditEntry{}
	}
	return httpx.WriteJSON(w, http.StatusOK, page[app.AuditEntry]{Items: entries, NextCursor: nullable(next)})
}

// auditExisting answers 404 for an unknown patient, else records the read.
func (h HTTP) auditExisting(r *http.Request, action string, id uuid.UUID) error {
	if _, err := h.Get.Handle(r.Context(), id); err != nil {
		return problem(err)
	}
	return h.audit(r, action, id)
}

// audit records that the caller read these patients' records.
func (h HTTP) audit(r *http.Request, action string, patients ...uuid.UUID) error {
	p, _ := httpx.PrincipalFrom(r.Context())
	return h.Audit.Record(r.Context(), h.Register.Now(), string(p.Role), p.TokenID, action, httpx.RequestIDFrom(r.Context()), patients...)
}

type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func pathID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue(name))
	if err != nil {
		return uuid.Nil, httpx.BadRequest("the "+name+" in the path is not a UUID", httpx.FieldError{Field: name, Message: "must be a UUID"})
	}
	return id, nil
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// problem maps domain errors to problems; anything else is a 500.
func problem(err error) error {
	var ve *validation.Error
	var dup *patient.DuplicateError
	switch {
	case errors.As(err, &ve):
		fields := make([]httpx.FieldError, len(ve.Fields))
		for i, f := range ve.Fields {
			fields[i] = httpx.FieldError{Field: f.Field, Message: f.Message}
		}
		return httpx.Unprocessable("the request is not valid", fields...)
	case errors.As(err, &dup):
		return httpx.Conflict("this patient is already registered").
			WithExtension("existing_patient_id", dup.ExistingID.String()).
			WithExtension("duplicate_rule", dup.Rule)
	case errors.Is(err, patient.ErrNotFound):
		return httpx.NotFound("no such patient")
	case errors.Is(err, patient.ErrVersionMismatch):
		return httpx.PreconditionFailed("the patient changed since it was read: GET it again")
	case errors.Is(err, program.ErrNotFound):
		return httpx.Unprocessable("no such program", httpx.FieldError{Field: "program", Message: "is not a program of this clinic"})
	}
	return clinicalProblem(err)
}
