// Package ports adapts intake's use cases to HTTP.
package ports

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
	"github.com/clinicops/clinicops/services/intake/internal/domain/course"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
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
}

// Routes registers the routes with the roles each allows.
func (h HTTP) Routes(rt *httpx.Router) {
	// Every creating POST keeps its Idempotency-Key in the business
	// transaction: one commit per request, and a concurrent retry waits for
	// the first and replays its answer. The repositories claim the key and
	// store the answer (PatientRepository.Add, the Clinical creators).
	idem := h.Idempotency.WrapTx
	rt.Handle("POST /v1/patients", idem(h.registerPatient), frontDesk...)
	rt.Handle("GET /v1/patients", h.searchPatients, readPatients...)
	rt.Handle("GET /v1/patients/{id}", h.getPatient, readPatients...)
	rt.Handle("PATCH /v1/patients/{id}", h.updatePatient, frontDesk...)
	rt.Handle("GET /v1/programs", h.listPrograms, readPrograms...)
	rt.Handle("GET /v1/audit", h.listAudit, readAuditRoles...)
	h.Clinical.Audit = h.auditExisting
	h.Clinical.routes(rt, idem)
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
	// With an Idempotency-Key, the answer is rendered and stored in the
	// registration's own transaction (idempotency.WrapTx).
	idempotency.RenderWith(r.Context(), func(p *patient.Patient) (idempotency.Answer, error) {
		return idempotency.JSON(http.StatusCreated, toPatientResponse(p),
			"Location", "/v1/patients/"+p.ID().String(), "ETag", httpx.ETag(p.Version()))
	})
	p, err := h.Register.Handle(r.Context(), d)
	if err != nil {
		return problem(err)
	}
	w.Header().Set("Location", "/v1/patients/"+p.ID().String())
	w.Header().Set("ETag", httpx.ETag(p.Version()))
	return httpx.WriteJSON(w, http.StatusCreated, toPatientResponse(p))
}

func (h HTTP) getPatient(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
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
	w.Header().Set("ETag", httpx.ETag(p.Version()))
	return httpx.WriteJSON(w, http.StatusOK, toPatientResponse(p))
}

func (h HTTP) updatePatient(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	version, err := httpx.IfMatchVersion(r)
	if err != nil {
		return err
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
	w.Header().Set("ETag", httpx.ETag(p.Version()))
	return httpx.WriteJSON(w, http.StatusOK, toPatientResponse(p))
}

// searchPages is the page size policy of the patient search.
var searchPages = httpx.Pagination{Default: 20, Max: 100}

// Search parameter limits, in characters like every limit (validation.Length):
// the national id limit is the domain's longest id ("other", 64 characters),
// so that every id that can be registered can be searched for.
const (
	maxSearchName       = 100
	maxSearchNationalID = 64
)

func (h HTTP) searchPatients(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	if err := httpx.CheckQueryNames(qv, "q", "phone", "national_id", "limit", "cursor"); err != nil {
		return err
	}
	pg, fields := searchPages.Parse(qv)
	q := app.PatientSearch{NamePrefix: strings.TrimSpace(qv.Get("q")), Phone: strings.TrimSpace(qv.Get("phone")),
		NationalID: strings.TrimSpace(qv.Get("national_id")), Limit: pg.Limit, Cursor: pg.Cursor}
	if q.NamePrefix == "" && q.Phone == "" && q.NationalID == "" {
		fields = append(fields, httpx.FieldError{Field: "q", Message: "give q, phone or national_id"})
	}
	if validation.TooLong(q.NamePrefix, maxSearchName) {
		fields = append(fields, httpx.FieldError{Field: "q", Message: fmt.Sprintf("is longer than %d characters", maxSearchName)})
	}
	if q.Phone != "" && !patient.ValidPhone(q.Phone) {
		fields = append(fields, httpx.FieldError{Field: "phone", Message: "must be E.164, e.g. +8613800138000"})
	}
	if validation.TooLong(q.NationalID, maxSearchNationalID) {
		fields = append(fields, httpx.FieldError{Field: "national_id", Message: fmt.Sprintf("is longer than %d characters", maxSearchNationalID)})
	}
	if len(fields) > 0 {
		return httpx.BadRequest("the search is not valid", fields...)
	}
	found, next, err := h.Search.Handle(r.Context(), q)
	if err != nil {
		return problem(err)
	}
	ids := make([]uuid.UUID, len(found))
	items := make([]patientResponse, len(found))
	for i, p := range found {
		ids[i], items[i] = p.ID(), toPatientResponse(p)
	}
	if err := h.audit(r, "patient.search", ids...); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, httpx.NewPage(items, next))
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
	if err := httpx.CheckQueryNames(qv, "patient_id", "cursor"); err != nil {
		return err
	}
	id, err := uuid.Parse(qv.Get("patient_id"))
	if err != nil {
		return httpx.BadRequest("patient_id is required", httpx.FieldError{Field: "patient_id", Message: "must be a UUID"})
	}
	if _, err := h.Get.Handle(r.Context(), id); err != nil {
		return problem(err)
	}
	limit := searchPages.Max
	after := int64(0)
	if v := qv.Get("cursor"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return httpx.BadCursor()
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
	return httpx.WriteJSON(w, http.StatusOK, httpx.NewPage(entries, next))
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

// problems maps intake's domain errors to problems; anything else is a 500.
var problems = func() *httpx.ErrorMap {
	m := httpx.NewErrorMap().
		Is(patient.ErrNotFound, httpx.NotFound("no such patient")).
		Is(patient.ErrVersionMismatch, httpx.PreconditionFailed("the patient changed since it was read: GET it again")).
		Is(program.ErrNotFound, httpx.Unprocessable("no such program", httpx.FieldError{Field: "program", Message: "is not a program of this clinic"})).
		Is(app.ErrBadCursor, httpx.BadCursor()).
		Is(consent.ErrNotFound, httpx.NotFound("no such consent for this patient")).
		Is(course.ErrNotFound, httpx.NotFound("no such course")).
		Is(consent.ErrAlreadyWithdrawn, httpx.Conflict("the consent is already withdrawn")).
		Is(course.ErrAlreadyCancelled, httpx.Conflict("the course is already cancelled"))
	httpx.As(m, func(dup *patient.DuplicateError) *httpx.Problem {
		return httpx.Conflict("this patient is already registered").
			WithExtension("existing_patient_id", dup.ExistingID.String()).
			WithExtension("duplicate_rule", dup.Rule)
	})
	httpx.As(m, func(pre *course.PreconditionError) *httpx.Problem {
		missing := make([]map[string]string, len(pre.Missing))
		for i, m := range pre.Missing {
			missing[i] = map[string]string{"code": m.Code, "message": m.Message}
		}
		return httpx.Unprocessable("the course cannot be requested yet").WithExtension("missing", missing)
	})
	return m
}()

// problem maps err with problems.
func problem(err error) error { return problems.Map(err) }
