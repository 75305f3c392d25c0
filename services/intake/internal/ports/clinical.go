package ports

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
	"github.com/clinicops/clinicops/services/intake/internal/domain/course"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/internal/domain/screening"
)

// Clinical serves consents, screenings and courses.
type Clinical struct {
	RecordConsent   app.RecordConsent
	WithdrawConsent app.WithdrawConsent
	RecordScreening app.RecordScreening
	RequestCourse   app.RequestCourse
	CancelCourse    app.CancelCourse
	Repo            app.ClinicalRepository
	// Audit checks the patient exists and records the read.
	Audit func(r *http.Request, action string, patientID uuid.UUID) error
}

// routes registers the routes; idem makes the creating POSTs idempotent
// (idempotency.WrapTx: their repositories claim the key and store the answer
// in the creating transaction).
func (h Clinical) routes(rt *httpx.Router, idem func(httpx.HandlerFunc) httpx.HandlerFunc) {
	rt.Handle("POST /v1/patients/{id}/consents", idem(h.recordConsent), frontDesk...)
	rt.Handle("GET /v1/patients/{id}/consents", h.listConsents, readClinical...)
	rt.Handle("POST /v1/patients/{id}/consents/{cid}/withdraw", h.withdrawConsent, frontDesk...)
	rt.Handle("POST /v1/patients/{id}/screenings", idem(h.recordScreening), recordScreens...)
	rt.Handle("GET /v1/patients/{id}/screenings", h.listScreenings, readClinical...)
	rt.Handle("POST /v1/patients/{id}/courses", idem(h.requestCourse), frontDesk...)
	rt.Handle("GET /v1/patients/{id}/courses", h.listCourses, readPatients...)
	rt.Handle("POST /v1/courses/{id}/cancel", h.cancelCourse, frontDesk...)
}

type consentRequest struct {
	Kind        string `json:"kind"`
	Program     string `json:"program,omitempty"`
	FormVersion string `json:"form_version"`
	SignedAt    string `json:"signed_at"`
	SignedBy    string `json:"signed_by"`
	ProtocolID  string `json:"protocol_id,omitempty"`
	TrialID     string `json:"trial_id,omitempty"`
}

type consentResponse struct {
	ID               string     `json:"id"`
	PatientID        string     `json:"patient_id"`
	Kind             string     `json:"kind"`
	Program          string     `json:"program,omitempty"`
	FormVersion      string     `json:"form_version"`
	SignedAt         time.Time  `json:"signed_at"`
	SignedBy         string     `json:"signed_by"`
	ProtocolID       string     `json:"protocol_id,omitempty"`
	TrialID          string     `json:"trial_id,omitempty"`
	Status           string     `json:"status"`
	WithdrawnAt      *time.Time `json:"withdrawn_at,omitempty"`
	WithdrawalReason string     `json:"withdrawal_reason,omitempty"`
	Version          int64      `json:"version"`
	CreatedAt        time.Time  `json:"created_at"`
}

func toConsentResponse(c *consent.Consent) consentResponse {
	out := consentResponse{ID: c.ID().String(), PatientID: c.PatientID().String(), Kind: string(c.Kind()), Program: c.Program(),
		FormVersion: c.FormVersion(), SignedAt: c.SignedAt(), SignedBy: string(c.SignedBy()), ProtocolID: c.ProtocolID(),
		TrialID: c.TrialID(), Status: string(c.Status()), WithdrawalReason: c.WithdrawalReason(), Version: c.Version(), CreatedAt: c.CreatedAt()}
	if t := c.WithdrawnAt(); !t.IsZero() {
		out.WithdrawnAt = &t
	}
	return out
}

func (h Clinical) recordConsent(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req consentRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	in := consent.Input{Kind: consent.Kind(req.Kind), Program: req.Program, FormVersion: req.FormVersion,
		SignedBy: consent.SignedBy(req.SignedBy), ProtocolID: req.ProtocolID, TrialID: req.TrialID}
	if req.SignedAt != "" {
		t, err := time.Parse(time.RFC3339, req.SignedAt)
		if err != nil {
			return httpx.Unprocessable("the consent is not valid", httpx.FieldError{Field: "signed_at", Message: "must be an RFC 3339 time"})
		}
		in.SignedAt = t.UTC()
	}
	// With an Idempotency-Key, the answer is rendered and stored in the
	// consent's own transaction (idempotency.WrapTx).
	idempotency.RenderWith(r.Context(), func(c *consent.Consent) (idempotency.Answer, error) {
		return idempotency.JSON(http.StatusCreated, toConsentResponse(c))
	})
	c, err := h.RecordConsent.Handle(r.Context(), id, in)
	if err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusCreated, toConsentResponse(c))
}

func (h Clinical) listConsents(w http.ResponseWriter, r *http.Request) error {
	return listFor(h, w, r, "consents.read", h.Repo.Consents, toConsentResponse)
}

func (h Clinical) withdrawConsent(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	cid, err := httpx.PathUUID(r, "cid")
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	c, err := h.WithdrawConsent.Handle(r.Context(), id, cid, req.Reason)
	if err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, toConsentResponse(c))
}

type indicationJSON struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type screeningRequest struct {
	Program    string           `json:"program"`
	Indication *indicationJSON  `json:"indication"`
	Answers    map[string]*bool `json:"answers"`
}

type reasonJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type screeningResponse struct {
	ID               string          `json:"id"`
	PatientID        string          `json:"patient_id"`
	Program          string          `json:"program"`
	ScreeningVersion string          `json:"screening_version"`
	Indication       indicationJSON  `json:"indication"`
	Answers          map[string]bool `json:"answers"`
	Eligible         bool            `json:"eligible"`
	Reasons          []reasonJSON    `json:"reasons"`
	CompletedAt      time.Time       `json:"completed_at"`
}

func toScreeningResponse(s *screening.Screening) screeningResponse {
	res := s.Result()
	reasons := make([]reasonJSON, len(res.Reasons))
	for i, x := range res.Reasons {
		reasons[i] = reasonJSON{x.Code, x.Message}
	}
	return screeningResponse{ID: s.ID().String(), PatientID: s.PatientID().String(), Program: s.Program(),
		ScreeningVersion: s.ScreeningVersion(), Indication: indicationJSON{s.Indication().System, s.Indication().Code},
		Answers: s.Answers(), Eligible: res.Eligible, Reasons: reasons, CompletedAt: s.CompletedAt()}
}

// parseIndication checks presence and leaves the code rules to the domain.
func parseIndication(ind *indicationJSON) (program.Indication, error) {
	if ind == nil {
		return program.Indication{}, validation.Field("indication", "is required")
	}
	return program.ParseICD10(ind.System, ind.Code)
}

func (h Clinical) recordScreening(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req screeningRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	if req.Program == "" {
		return problem(validation.Field("program", "is required"))
	}
	ind, err := parseIndication(req.Indication)
	if err != nil {
		return problem(err)
	}
	if req.Answers == nil {
		return problem(validation.Field("answers", "is required"))
	}
	// null is not an answer: "unknown" must never read as "no".
	answers := make(map[string]bool, len(req.Answers))
	var nulls validation.List
	for q, a := range req.Answers {
		if a == nil {
			if program.ValidQuestionID(q) {
				nulls.Add("answers."+q, "must be true or false")
			} else {
				nulls.Add("answers", "has an answer that is not true or false")
			}
			continue
		}
		answers[q] = *a
	}
	if err := nulls.Err(); err != nil {
		return problem(err)
	}
	idempotency.RenderWith(r.Context(), func(s *screening.Screening) (idempotency.Answer, error) {
		return idempotency.JSON(http.StatusCreated, toScreeningResponse(s))
	})
	s, err := h.RecordScreening.Handle(r.Context(), id, req.Program, ind, answers)
	if err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusCreated, toScreeningResponse(s))
}

func (h Clinical) listScreenings(w http.ResponseWriter, r *http.Request) error {
	return listFor(h, w, r, "screenings.read", h.Repo.Screenings, toScreeningResponse)
}

type courseRequest struct {
	Program        string          `json:"program"`
	Indication     *indicationJSON `json:"indication"`
	PreferredStart string          `json:"preferred_start"`
	Notes          string          `json:"notes,omitempty"`
}

type courseResponse struct {
	ID                 string         `json:"id"`
	PatientID          string         `json:"patient_id"`
	Program            string         `json:"program"`
	ProtocolVersion    string         `json:"protocol_version"`
	Indication         indicationJSON `json:"indication"`
	PreferredStart     string         `json:"preferred_start"`
	Notes              string         `json:"notes,omitempty"`
	Status             string         `json:"status"`
	CancellationReason string         `json:"cancellation_reason,omitempty"`
	Version            int64          `json:"version"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
}

func toCourseResponse(c *course.Course) courseResponse {
	return courseResponse{ID: c.ID().String(), PatientID: c.PatientID().String(), Program: c.Program(),
		ProtocolVersion: c.ProtocolVersion(), Indication: indicationJSON{c.Indication().System, c.Indication().Code},
		PreferredStart: c.PreferredStart().Format(time.DateOnly), Notes: c.Notes(), Status: string(c.Status()),
		CancellationReason: c.CancellationReason(), Version: c.Version(), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt()}
}

func (h Clinical) requestCourse(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req courseRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	var l validation.List
	if req.Program == "" {
		l.Add("program", "is required")
	}
	ind, err := parseIndication(req.Indication)
	if err != nil {
		if merr := l.Merge(err); merr != nil {
			return merr
		}
	}
	in := course.Input{Program: req.Program, Indication: ind, Notes: req.Notes}
	switch t, err := time.Parse(time.DateOnly, req.PreferredStart); {
	case req.PreferredStart == "":
		l.Add("preferred_start", "is required")
	case err != nil:
		l.Add("preferred_start", "must be a date YYYY-MM-DD")
	default:
		in.PreferredStart = t
	}
	if err := l.Err(); err != nil {
		return problem(err)
	}
	idempotency.RenderWith(r.Context(), func(c *course.Course) (idempotency.Answer, error) {
		return idempotency.JSON(http.StatusCreated, toCourseResponse(c))
	})
	c, err := h.RequestCourse.Handle(r.Context(), id, in)
	if err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusCreated, toCourseResponse(c))
}

func (h Clinical) listCourses(w http.ResponseWriter, r *http.Request) error {
	return listFor(h, w, r, "courses.read", h.Repo.Courses, toCourseResponse)
}

func (h Clinical) cancelCourse(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	c, err := h.CancelCourse.Handle(r.Context(), id, req.Reason)
	if err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, toCourseResponse(c))
}

// listFor answers one patient's records: a 404 for an unknown patient, and
// the read is audited.
func listFor[T, R any](h Clinical, w http.ResponseWriter, r *http.Request, action string,
	load func(context.Context, uuid.UUID) ([]T, error), convert func(T) R) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	if err := h.Audit(r, action, id); err != nil {
		return err
	}
	records, err := load(r.Context(), id)
	if err != nil {
		return err
	}
	items := make([]R, len(records))
	for i, rec := range records {
		items[i] = convert(rec)
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}
