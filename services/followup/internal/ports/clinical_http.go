package ports

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/adverse"
	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
	"github.com/clinicops/clinicops/services/followup/internal/domain/outcome"
)

// ClinicalHTTP serves check-ins, escalations, adverse events, recipients
// and outcomes.
type ClinicalHTTP struct {
	UoW         app.ClinicalUnitOfWork
	App         *app.Clinical
	Read        app.ClinicalReader
	Idempotency *idempotency.Store
}

const maxClinicalBody = 16 << 10

// Routes registers the routes with the roles each allows: nurses record
// check-ins; clinicians record adverse events and outcomes and see
// escalations.
func (h ClinicalHTTP) Routes(rt *httpx.Router) {
	rt.Handle("GET /v1/check-ins", h.listCheckIns, httpx.RoleNurse, httpx.RoleClinician)
	rt.Handle("POST /v1/check-ins/{id}", h.Idempotency.WrapTx(h.recordCheckIn), httpx.RoleNurse)
	rt.Handle("GET /v1/escalations", h.listEscalations, httpx.RoleClinician)
	rt.Handle("POST /v1/adverse-events", h.Idempotency.WrapTx(h.recordAdverseEvent), httpx.RoleClinician)
	rt.Handle("GET /v1/adverse-events", h.listAdverseEvents, httpx.RoleClinician)
	rt.Handle("GET /v1/products/{product_id}/recipients", h.listRecipients, httpx.RoleClinician)
	rt.Handle("POST /v1/outcomes", h.Idempotency.WrapTx(h.recordOutcome), httpx.RoleClinician)
	rt.Handle("GET /v1/outcomes", h.listOutcomes, httpx.RoleClinician)
}

var clinicalProblems = httpx.NewErrorMap().
	Is(checkin.ErrNotFound, httpx.NotFound("no such check-in")).
	Is(checkin.ErrAlreadyRecorded, httpx.Conflict("the check-in is already answered"))

func clinicalProblem(err error) error {
	if p := clinicalProblems.Problem(err); p != nil {
		return p
	}
	return err
}

// keyed registers how a keyed request is answered once its use case
// succeeded; the answer is stored in the use case's own transaction.
func keyed(r *http.Request, status int, view func() any) {
	idempotency.RenderWith(r.Context(), func(struct{}) (idempotency.Answer, error) {
		return idempotency.JSON(status, view())
	})
}

func queryUUID(r *http.Request, name string, required bool) (uuid.UUID, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		if required {
			return uuid.Nil, httpx.BadRequest(name+" is required", httpx.FieldError{Field: name, Message: "is required"})
		}
		return uuid.Nil, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return uuid.Nil, httpx.BadRequest(name+" is not a UUID", httpx.FieldError{Field: name, Message: "must be a UUID"})
	}
	return id, nil
}

type checkInView struct {
	ID                 string    `json:"id"`
	PatientID          string    `json:"patient_id"`
	CourseID           *string   `json:"course_id"`
	AppointmentID      string    `json:"appointment_id"`
	ProductID          string    `json:"product_id"`
	Day                int       `json:"day"`
	DueDate            string    `json:"due_date"`
	DueAt              time.Time `json:"due_at"`
	Status             string    `json:"status"`
	TemperatureCelsius *float64  `json:"temperature_celsius"`
	Symptoms           []string  `json:"symptoms"`
	Note               string    `json:"note"`
	RecordedBy         *string   `json:"recorded_by"`
	RecordedAt         *string   `json:"recorded_at"`
	Escalated          bool      `json:"escalated"`
	Version            int64     `json:"version"`
}

func toCheckInView(c checkin.CheckIn) checkInView {
	v := checkInView{ID: c.ID.String(), PatientID: c.PatientID.String(), CourseID: optionalID(c.CourseID),
		AppointmentID: c.AppointmentID.String(), ProductID: c.ProductID, Day: c.Day, DueDate: c.DueDate.Format(time.DateOnly),
		DueAt: c.DueAt, Status: string(c.Status), Symptoms: []string{}, Note: c.Answers.Note, Escalated: c.Escalated, Version: c.Version}
	if c.Answers.TemperatureDeci != 0 {
		t := float64(c.Answers.TemperatureDeci) / 10
		v.TemperatureCelsius = &t
	}
	for _, s := range c.Answers.Symptoms {
		v.Symptoms = append(v.Symptoms, string(s))
	}
	if c.Answers.By != "" {
		by := string(c.Answers.By)
		v.RecordedBy = &by
	}
	if !c.RecordedAt.IsZero() {
		at := c.RecordedAt.Format(time.RFC3339)
		v.RecordedAt = &at
	}
	return v
}

type listOf[T any] struct {
	Items []T `json:"items"`
}

func (h ClinicalHTTP) listCheckIns(w http.ResponseWriter, r *http.Request) error {
	patientID, err := queryUUID(r, "patient_id", false)
	if err != nil {
		return err
	}
	var status checkin.Status
	if s := r.URL.Query().Get("status"); s != "" {
		if status, err = checkin.ParseStatus(s); err != nil {
			return httpx.BadRequest("unknown status", httpx.FieldError{Field: "status", Message: "must be pending, recorded or overdue"})
		}
	}
	list, err := h.Read.CheckIns(r.Context(), patientID, status)
	if err != nil {
		return err
	}
	out := listOf[checkInView]{Items: make([]checkInView, len(list))}
	for i, c := range list {
		out.Items[i] = toCheckInView(c)
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

type checkInRequest struct {
	TemperatureCelsius *float64 `json:"temperature_celsius"`
	Symptoms           []string `json:"symptoms"`
	Note               string   `json:"note"`
}

func (h ClinicalHTTP) recordCheckIn(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return httpx.BadRequest("the check-in id is not a UUID", httpx.FieldError{Field: "id", Message: "must be a UUID"})
	}
	var c checkin.CheckIn
	keyed(r, http.StatusOK, func() any { return toCheckInView(c) })
	if err := recordAnswers(r, h.UoW, h.App, id, checkin.ByNurse, &c); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, toCheckInView(c))
}

// recordAnswers reads a check-in's answers from the request and records
// them as by (the nurse, or the patient through a link) into *c, set inside
// the transaction (a keyed request's answer is stored there).
func recordAnswers(r *http.Request, uow app.ClinicalUnitOfWork, clinical *app.Clinical, id uuid.UUID, by checkin.Recorder,
	c *checkin.CheckIn) error {
	var req checkInRequest
	if err := httpx.DecodeJSON(r, &req, maxClinicalBody); err != nil {
		return err
	}
	answers, err := checkin.NewAnswers(req.TemperatureCelsius, req.Symptoms, req.Note, by)
	if err != nil {
		return clinicalProblem(err)
	}
	if err := uow.Do(r.Context(), func(repos app.ClinicalRepositories) error {
		var err error
		*c, err = clinical.RecordCheckIn(r.Context(), repos, id, answers)
		return err
	}); err != nil {
		return clinicalProblem(err)
	}
	return nil
}

type escalationView struct {
	ID             string    `json:"id"`
	CheckInID      string    `json:"check_in_id"`
	PatientID      string    `json:"patient_id"`
	CourseID       *string   `json:"course_id"`
	ProductID      string    `json:"product_id"`
	Reasons        []string  `json:"reasons"`
	SuggestedScale string    `json:"suggested_scale"`
	SuggestedGrade int       `json:"suggested_grade"`
	Status         string    `json:"status"`
	RaisedAt       time.Time `json:"raised_at"`
}

func (h ClinicalHTTP) listEscalations(w http.ResponseWriter, r *http.Request) error {
	status := r.URL.Query().Get("status")
	if status == "" {
		status = "open"
	}
	if status != "open" && status != "closed" {
		return httpx.BadRequest("unknown status", httpx.FieldError{Field: "status", Message: "must be open or closed"})
	}
	list, err := h.Read.Escalations(r.Context(), status)
	if err != nil {
		return err
	}
	out := listOf[escalationView]{Items: make([]escalationView, len(list))}
	for i, e := range list {
		out.Items[i] = escalationView{ID: e.ID.String(), CheckInID: e.CheckInID.String(), PatientID: e.PatientID.String(),
			CourseID: optionalID(e.CourseID), ProductID: e.ProductID, Reasons: e.Reasons, SuggestedScale: e.Scale,
			SuggestedGrade: e.Grade, Status: e.Status, RaisedAt: e.RaisedAt}
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

type adverseEventRequest struct {
	PatientID     string    `json:"patient_id"`
	CourseID      string    `json:"course_id"`
	Term          string    `json:"term"`
	Scale         string    `json:"scale"`
	Grade         int       `json:"grade"`
	OnsetAt       time.Time `json:"onset_at"`
	Serious       bool      `json:"serious"`
	Outcome       string    `json:"outcome"`
	ProductID     string    `json:"product_id"`
	AppointmentID string    `json:"appointment_id"`
}

type adverseEventView struct {
	ID            string    `json:"id"`
	PatientID     string    `json:"patient_id"`
	CourseID      string    `json:"course_id"`
	Term          string    `json:"term"`
	Scale         string    `json:"scale"`
	Grade         int       `json:"grade"`
	OnsetAt       time.Time `json:"onset_at"`
	Serious       bool      `json:"serious"`
	Outcome       *string   `json:"outcome"`
	ProductID     *string   `json:"product_id"`
	AppointmentID *string   `json:"appointment_id"`
	Reported      bool      `json:"reported"`
	RecordedAt    time.Time `json:"recorded_at"`
}

func optionalText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toAdverseEventView(e adverse.Event) adverseEventView {
	return adverseEventView{ID: e.ID.String(), PatientID: e.PatientID.String(), CourseID: e.CourseID.String(), Term: e.Term,
		Scale: string(e.Scale), Grade: e.Grade, OnsetAt: e.OnsetAt, Serious: e.Serious, Outcome: optionalText(e.Outcome),
		ProductID: optionalText(e.ProductID), AppointmentID: optionalID(e.AppointmentID), Reported: e.Reportable(),
		RecordedAt: e.RecordedAt}
}

// parseIDs parses the named UUID fields of a body; an empty optional one is
// uuid.Nil.
func parseIDs(fields []httpx.FieldError, specs ...idSpec) []httpx.FieldError {
	for _, s := range specs {
		if *s.value == "" && !s.required {
			continue
		}
		id, err := uuid.Parse(*s.value)
		if err != nil {
			fields = append(fields, httpx.FieldError{Field: s.field, Message: "must be a UUID"})
			continue
		}
		*s.into = id
	}
	return fields
}

type idSpec struct {
	field    string
	value    *string
	into     *uuid.UUID
	required bool
}

func (h ClinicalHTTP) recordAdverseEvent(w http.ResponseWriter, r *http.Request) error {
	var req adverseEventRequest
	if err := httpx.DecodeJSON(r, &req, maxClinicalBody); err != nil {
		return err
	}
	in := adverse.Input{Term: req.Term, Scale: req.Scale, Grade: req.Grade, OnsetAt: req.OnsetAt, Serious: req.Serious,
		Outcome: req.Outcome, ProductID: req.ProductID}
	if fields := parseIDs(nil, idSpec{"patient_id", &req.PatientID, &in.PatientID, true},
		idSpec{"course_id", &req.CourseID, &in.CourseID, true},
		idSpec{"appointment_id", &req.AppointmentID, &in.AppointmentID, false}); len(fields) > 0 {
		return httpx.Unprocessable("the adverse event is not valid", fields...)
	}
	return h.recordWith(w, r, func(ctx context.Context, repos app.ClinicalRepositories) (any, error) {
		e, err := h.App.RecordAdverseEvent(ctx, repos, in)
		return toAdverseEventView(e), err
	})
}

// recordWith runs a recording use case in one transaction and answers 201
// with its view (stored for a keyed retry in the same commit).
func (h ClinicalHTTP) recordWith(w http.ResponseWriter, r *http.Request,
	fn func(context.Context, app.ClinicalRepositories) (any, error)) error {
	var view any
	keyed(r, http.StatusCreated, func() any { return view })
	if err := h.UoW.Do(r.Context(), func(repos app.ClinicalRepositories) error {
		var err error
		view, err = fn(r.Context(), repos)
		return err
	}); err != nil {
		return clinicalProblem(err)
	}
	return httpx.WriteJSON(w, http.StatusCreated, view)
}

func (h ClinicalHTTP) listAdverseEvents(w http.ResponseWriter, r *http.Request) error {
	return listOfPatient(w, r, h.Read.AdverseEvents, toAdverseEventView)
}

// listOfPatient answers a list of the patient_id's records, each as its
// view.
func listOfPatient[T, V any](w http.ResponseWriter, r *http.Request, read func(context.Context, uuid.UUID) ([]T, error), view func(T) V) error {
	patientID, err := queryUUID(r, "patient_id", true)
	if err != nil {
		return err
	}
	list, err := read(r.Context(), patientID)
	if err != nil {
		return err
	}
	out := listOf[V]{Items: make([]V, len(list))}
	for i, x := range list {
		out.Items[i] = view(x)
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

type recipientView struct {
	PatientID     string    `json:"patient_id"`
	CourseID      *string   `json:"course_id"`
	AppointmentID string    `json:"appointment_id"`
	Cycle         int       `json:"cycle"`
	InfusedAt     time.Time `json:"infused_at"`
}

type recipientsView struct {
	ProductID string          `json:"product_id"`
	Items     []recipientView `json:"items"`
}

func (h ClinicalHTTP) listRecipients(w http.ResponseWriter, r *http.Request) error {
	product := r.PathValue("product_id")
	if !adverse.ValidProductID(product) {
		return httpx.BadRequest("the product id is not a DIN", httpx.FieldError{Field: "product_id",
			Message: "must be an ISBT 128 DIN with its check character"})
	}
	list, err := h.Read.Recipients(r.Context(), product)
	if err != nil {
		return err
	}
	out := recipientsView{ProductID: product, Items: make([]recipientView, len(list))}
	for i, p := range list {
		out.Items[i] = recipientView{PatientID: p.PatientID.String(), CourseID: optionalID(p.CourseID),
			AppointmentID: p.AppointmentID.String(), Cycle: p.Cycle, InfusedAt: p.InfusedAt}
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

type outcomeRequest struct {
	PatientID  string    `json:"patient_id"`
	CourseID   string    `json:"course_id"`
	Cycle      int       `json:"cycle"`
	Measure    string    `json:"measure"`
	Value      float64   `json:"value"`
	Unit       string    `json:"unit"`
	MeasuredAt time.Time `json:"measured_at"`
}

type outcomeView struct {
	ID         string    `json:"id"`
	PatientID  string    `json:"patient_id"`
	CourseID   string    `json:"course_id"`
	Cycle      int       `json:"cycle"`
	Measure    string    `json:"measure"`
	Value      float64   `json:"value"`
	Unit       *string   `json:"unit"`
	Band       *string   `json:"band"`
	MeasuredAt time.Time `json:"measured_at"`
	RecordedAt time.Time `json:"recorded_at"`
}

func toOutcomeView(o outcome.Outcome) outcomeView {
	v := outcomeView{ID: o.ID.String(), PatientID: o.PatientID.String(), CourseID: o.CourseID.String(), Cycle: o.Cycle,
		Measure: string(o.Score.Measure), Value: float64(o.Score.ValueMilli) / 1000, Band: optionalText(o.Score.Band),
		MeasuredAt: o.MeasuredAt, RecordedAt: o.RecordedAt}
	if o.Score.Measure == outcome.HbA1c {
		v.Unit = optionalText(outcome.UnitPercent) // stored and answered in percent
	}
	return v
}

func (h ClinicalHTTP) recordOutcome(w http.ResponseWriter, r *http.Request) error {
	var req outcomeRequest
	if err := httpx.DecodeJSON(r, &req, maxClinicalBody); err != nil {
		return err
	}
	in := app.OutcomeInput{Cycle: req.Cycle, Measure: req.Measure, Value: req.Value, Unit: req.Unit, MeasuredAt: req.MeasuredAt}
	if fields := parseIDs(nil, idSpec{"patient_id", &req.PatientID, &in.PatientID, true},
		idSpec{"course_id", &req.CourseID, &in.CourseID, true}); len(fields) > 0 {
		return httpx.Unprocessable("the outcome is not valid", fields...)
	}
	return h.recordWith(w, r, func(ctx context.Context, repos app.ClinicalRepositories) (any, error) {
		o, err := h.App.RecordOutcome(ctx, repos, in)
		return toOutcomeView(o), err
	})
}

func (h ClinicalHTTP) listOutcomes(w http.ResponseWriter, r *http.Request) error {
	return listOfPatient(w, r, h.Read.Outcomes, toOutcomeView)
}
