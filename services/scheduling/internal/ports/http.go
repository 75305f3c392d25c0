// Package ports adapts scheduling's use cases to HTTP and to events.
package ports

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
	"github.com/clinicops/clinicops/services/scheduling/seed"
)

// maxBody caps request bodies; a protocol is the largest.
const maxBody = 64 << 10

// Roles by what they may do (issue 7): the front desk books and moves,
// nurses check in and complete, the lab runs cultures and QC, clinicians
// hold, resume and cancel courses, admins edit the reference data. Every
// clinical role reads the calendar; billing has no business with it.
var (
	readers   = []httpx.Role{httpx.RoleFrontDesk, httpx.RoleNurse, httpx.RoleLab, httpx.RoleClinician, httpx.RoleAdmin}
	frontDesk = []httpx.Role{httpx.RoleFrontDesk}
	nurse     = []httpx.Role{httpx.RoleNurse}
	lab       = []httpx.Role{httpx.RoleLab}
	clinician = []httpx.Role{httpx.RoleClinician}
	admin     = []httpx.Role{httpx.RoleAdmin}
)

// HTTP serves scheduling's API.
type HTTP struct {
	// UoW runs each command in one transaction.
	UoW app.UnitOfWork
	App *app.Scheduling
	// Read answers the GETs and the answers of commands that show a course.
	Read  app.Queries
	Admin app.ReferenceAdmin
	// Patients reads scheduling's patient references.
	Patients    app.PatientReader
	Idempotency *idempotency.Store
	// Location is the clinic's zone: answers show times in it, and a date
	// filter is a day in it.
	Location *time.Location
}

// Routes registers the routes with the roles each allows.
func (h HTTP) Routes(rt *httpx.Router) {
	// A keyed creating POST claims its key and stores its answer in the use
	// case's own transaction (one commit): each handler registers how it
	// answers (idempotency.RenderWith) and the repositories call
	// idempotency.ClaimTx first and AnswerTx last.
	idem := h.Idempotency.WrapTx
	rt.Handle("GET /v1/patients/{id}", h.getPatient, readers...)

	rt.Handle("GET /v1/courses/{id}", h.getCourse, readers...)
	rt.Handle("GET /v1/courses/{id}/timeline", h.getTimeline, readers...)
	rt.Handle("POST /v1/courses/{id}/plan", h.planCourse, frontDesk...)
	rt.Handle("POST /v1/courses/{id}/hold", h.holdCourse, clinician...)
	rt.Handle("POST /v1/courses/{id}/resume", h.resumeCourse, clinician...)
	rt.Handle("POST /v1/courses/{id}/cancel", h.cancelCourse, clinician...)

	rt.Handle("GET /v1/appointments", h.listAppointments, readers...)
	rt.Handle("POST /v1/appointments", idem(h.bookAppointment), frontDesk...)
	rt.Handle("POST /v1/appointments/{id}/reschedule", h.rescheduleAppointment, frontDesk...)
	rt.Handle("POST /v1/appointments/{id}/cancel", h.cancelAppointment, frontDesk...)
	rt.Handle("POST /v1/appointments/{id}/check-in", h.checkIn, nurse...)
	rt.Handle("POST /v1/appointments/{id}/complete", h.complete, nurse...)
	rt.Handle("POST /v1/appointments/{id}/no-show", h.noShow, nurse...)

	rt.Handle("GET /v1/products/{id}", h.getProduct, readers...)
	rt.Handle("POST /v1/products/{id}/culture", h.startCulture, lab...)
	rt.Handle("POST /v1/products/{id}/release", h.release, lab...)
	rt.Handle("POST /v1/products/{id}/fail", h.fail, lab...)
	rt.Handle("POST /v1/lots", idem(h.registerLot), lab...)

	rt.Handle("GET /v1/protocols", h.listProtocols, readers...)
	rt.Handle("GET /v1/protocols/{program}/{version}", h.getProtocol, readers...)
	rt.Handle("PUT /v1/protocols/{program}/{version}", h.putProtocol, admin...)
	rt.Handle("GET /v1/resources", h.listResources, readers...)
	rt.Handle("POST /v1/resources", idem(h.addResource), admin...)
	rt.Handle("PATCH /v1/resources/{id}", h.patchResource, admin...)
	rt.Handle("GET /v1/calendar", h.getCalendar, readers...)
	rt.Handle("PUT /v1/calendar/hours", h.putHours, admin...)
	rt.Handle("POST /v1/calendar/closures", idem(h.addClosure), admin...)
	rt.Handle("DELETE /v1/calendar/closures/{date}", h.deleteClosure, admin...)
}

func (h HTTP) clock() clock { return clock{loc: h.Location} }

func (h HTTP) now() time.Time { return h.App.Clock.Now() }

// Patients.

type patientResponse struct {
	PatientID  string `json:"patient_id"`
	FamilyName string `json:"family_name"`
	GivenName  string `json:"given_name"`
	BirthDate  string `json:"birth_date"`
	Version    int64  `json:"version"`
	UpdatedAt  string `json:"updated_at"`
}

func (h HTTP) getPatient(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	p, err := h.Patients.Get(r.Context(), id)
	if errors.Is(err, patientref.ErrNotFound) {
		return httpx.NotFound("scheduling has no such patient")
	}
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, patientResponse{PatientID: p.ID.String(), FamilyName: p.FamilyName,
		GivenName: p.GivenName, BirthDate: p.BirthDate.Format(time.DateOnly), Version: p.Version,
		UpdatedAt: h.clock().ts(p.UpdatedAt)})
}

// Courses.

func (h HTTP) getCourse(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	return h.writeCourse(w, r.Context(), id)
}

func (h HTTP) writeCourse(w http.ResponseWriter, ctx context.Context, id uuid.UUID) error {
	p, err := h.Read.Course(ctx, id)
	if err != nil {
		return problem(err)
	}
	w.Header().Set("ETag", httpx.ETag(p.Version))
	return httpx.WriteJSON(w, http.StatusOK, h.clock().course(p))
}

// courseCommand runs fn on the course in one transaction and answers with
// the course's plan as committed.
func (h HTTP) courseCommand(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, repos app.Repositories, id uuid.UUID) error) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.UoW.Do(ctx, func(repos app.Repositories) error { return fn(ctx, repos, id) }); err != nil {
		return problem(err)
	}
	return h.writeCourse(w, ctx, id)
}

func decodeReason(r *http.Request) (string, error) {
	var req reasonRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return "", err
	}
	reason, err := req.parse()
	if err != nil {
		return "", problem(err)
	}
	return reason, nil
}

func (h HTTP) planCourse(w http.ResponseWriter, r *http.Request) error {
	return h.courseCommand(w, r, func(ctx context.Context, repos app.Repositories, id uuid.UUID) error {
		_, err := h.App.Replan(ctx, repos, id)
		return err
	})
}

func (h HTTP) holdCourse(w http.ResponseWriter, r *http.Request) error {
	reason, err := decodeReason(r)
	if err != nil {
		return err
	}
	return h.courseCommand(w, r, func(ctx context.Context, repos app.Repositories, id uuid.UUID) error {
		_, err := h.App.Hold(ctx, repos, id, reason)
		return err
	})
}

func (h HTTP) resumeCourse(w http.ResponseWriter, r *http.Request) error {
	return h.courseCommand(w, r, func(ctx context.Context, repos app.Repositories, id uuid.UUID) error {
		_, err := h.App.Resume(ctx, repos, id)
		return err
	})
}

func (h HTTP) cancelCourse(w http.ResponseWriter, r *http.Request) error {
	reason, err := decodeReason(r)
	if err != nil {
		return err
	}
	return h.courseCommand(w, r, func(ctx context.Context, repos app.Repositories, id uuid.UUID) error {
		_, err := h.App.CancelCourse(ctx, repos, id, reason)
		return err
	})
}

// Appointments.

// appointmentPages is the page size policy of the appointment list.
var appointmentPages = httpx.Pagination{Default: 50, Max: 200}

var appointmentStatuses = []string{"booked", "checked_in", "completed", "cancelled", "suspended", "missed", "no_show"}

func (h HTTP) listAppointments(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	if err := httpx.CheckQueryNames(qv, "date", "resource_id", "patient_id", "course_id", "status", "limit", "cursor"); err != nil {
		return err
	}
	pg, fields := appointmentPages.Parse(qv)
	f := app.AppointmentFilter{Limit: pg.Limit, Status: qv.Get("status")}
	if v := qv.Get("date"); v != "" {
		day, err := time.Parse(time.DateOnly, v)
		if err != nil {
			fields = append(fields, httpx.FieldError{Field: "date", Message: "must be a date YYYY-MM-DD"})
		} else {
			f.From, f.To = clinicDay(day, h.Location)
		}
	}
	for name, dst := range map[string]*uuid.UUID{"resource_id": &f.ResourceID, "patient_id": &f.PatientID, "course_id": &f.CourseID} {
		if v := qv.Get(name); v != "" {
			id, err := uuid.Parse(v)
			if err != nil || len(v) != 36 {
				fields = append(fields, httpx.FieldError{Field: name, Message: "must be a UUID"})
				continue
			}
			*dst = id
		}
	}
	if f.Status != "" && !contains(appointmentStatuses, f.Status) {
		fields = append(fields, httpx.FieldError{Field: "status", Message: "is not an appointment status"})
	}
	if len(fields) > 0 {
		return httpx.BadRequest("the query is not valid", fields...)
	}
	if pg.Cursor != "" {
		var c app.AppointmentCursor
		if err := httpx.DecodeCursor(pg.Cursor, &c); err != nil {
			return err
		}
		if c.ID == uuid.Nil || c.Start.IsZero() {
			return httpx.BadCursor()
		}
		f.After = &c
	}
	items, next, err := h.Read.Appointments(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]appointmentResponse, len(items))
	for i, a := range items {
		out[i] = h.clock().appointment(a)
	}
	cursor := ""
	if next != nil {
		if cursor, err = httpx.EncodeCursor(next); err != nil {
			return err
		}
	}
	return httpx.WriteJSON(w, http.StatusOK, httpx.NewPage(out, cursor))
}

// clinicDay is a day in the clinic's zone: from local midnight to the next
// local midnight, which is 23 or 25 hours away across a DST change.
func clinicDay(day time.Time, loc *time.Location) (from, to time.Time) {
	from = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc).UTC()
	to = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc).UTC()
	return from, to
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (h HTTP) bookAppointment(w http.ResponseWriter, r *http.Request) error {
	var req bookRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	in, err := req.toAdHoc()
	if err != nil {
		return problem(err)
	}
	ctx := r.Context()
	var a *appointment.Appointment
	booked := func() (idempotency.Answer, error) {
		return idempotency.JSON(http.StatusCreated, h.clock().appointment(appointmentView(a)), "ETag", httpx.ETag(a.Version()))
	}
	renderKeyed(r, booked)
	err = h.UoW.Do(ctx, func(repos app.Repositories) error {
		var err error
		a, err = h.App.Book(ctx, repos, in)
		return err
	})
	switch {
	case errors.Is(err, app.ErrNoResource):
		return httpx.Unprocessable("no such resource", httpx.FieldError{Field: "resource_id", Message: "is not an active resource of this clinic"})
	case errors.Is(err, app.ErrUnknownPatient):
		return httpx.Unprocessable("scheduling does not know this patient (intake registers patients)",
			httpx.FieldError{Field: "patient_id", Message: "is not a patient scheduling knows"})
	case err != nil:
		return problem(err)
	}
	return writeAnswer(w, booked)
}

func (h HTTP) rescheduleAppointment(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req rescheduleRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	start, scope, err := req.parse()
	if err != nil {
		return problem(err)
	}
	ctx := r.Context()
	var moved []*appointment.Appointment
	if err := h.UoW.Do(ctx, func(repos app.Repositories) error {
		var err error
		moved, err = h.App.Reschedule(ctx, repos, id, start, scope)
		return err
	}); err != nil {
		return problem(err)
	}
	items := make([]appointmentResponse, len(moved))
	for i, a := range moved {
		items[i] = h.clock().appointment(appointmentView(a))
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// appointmentCommand runs fn on the appointment in one transaction and
// answers with it.
func (h HTTP) appointmentCommand(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, repos app.Repositories, id uuid.UUID) (*appointment.Appointment, error)) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	var a *appointment.Appointment
	if err := h.UoW.Do(ctx, func(repos app.Repositories) error {
		var err error
		a, err = fn(ctx, repos, id)
		return err
	}); err != nil {
		return problem(err)
	}
	w.Header().Set("ETag", httpx.ETag(a.Version()))
	return httpx.WriteJSON(w, http.StatusOK, h.clock().appointment(appointmentView(a)))
}

func (h HTTP) cancelAppointment(w http.ResponseWriter, r *http.Request) error {
	reason, err := decodeReason(r)
	if err != nil {
		return err
	}
	return h.appointmentCommand(w, r, func(ctx context.Context, repos app.Repositories, id uuid.UUID) (*appointment.Appointment, error) {
		return h.App.CancelAppointment(ctx, repos, id, reason)
	})
}

func (h HTTP) checkIn(w http.ResponseWriter, r *http.Request) error {
	return h.appointmentCommand(w, r, func(ctx context.Context, repos app.Repositories, id uuid.UUID) (*appointment.Appointment, error) {
		return h.App.CheckIn(ctx, repos, id)
	})
}

func (h HTTP) noShow(w http.ResponseWriter, r *http.Request) error {
	return h.appointmentCommand(w, r, func(ctx context.Context, repos app.Repositories, id uuid.UUID) (*appointment.Appointment, error) {
		return h.App.NoShow(ctx, repos, id)
	})
}

// complete completes a checked-in appointment. A chain-of-identity refusal
// commits (the block is recorded and InfusionBlocked published) and only
// then answers 409 naming the reason.
func (h HTTP) complete(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req completeRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	inf, err := req.toInfusion()
	if err != nil {
		return problem(err)
	}
	ctx := r.Context()
	var done app.Completed
	if err := h.UoW.Do(ctx, func(repos app.Repositories) error {
		var err error
		done, err = h.App.Complete(ctx, repos, id, inf)
		return err
	}); err != nil {
		return problem(err)
	}
	if done.Refused != nil {
		return identityProblem(done.Refused).WithExtension("appointment_id", id.String())
	}
	out := completeResponse{Appointment: h.clock().appointment(appointmentView(done.Appointment))}
	if done.Product != nil {
		s := dinOut(done.Product.DIN().String())
		out.ProductID = &s
	}
	w.Header().Set("ETag", httpx.ETag(done.Appointment.Version()))
	return httpx.WriteJSON(w, http.StatusOK, out)
}

// Products.

// pathDIN reads the product id in the path: a DIN, 13 characters or 14
// with its check character, spaces ignored.
func pathDIN(r *http.Request) (product.DIN, error) {
	d, err := product.ParseDIN(r.PathValue("id"))
	if err != nil {
		return product.DIN{}, httpx.BadRequest("the product id in the path is not a DIN",
			httpx.FieldError{Field: "id", Message: "must be an ISBT 128 DIN (13 characters, or 14 with a matching check character)"})
	}
	return d, nil
}

func (h HTTP) getProduct(w http.ResponseWriter, r *http.Request) error {
	d, err := pathDIN(r)
	if err != nil {
		return err
	}
	p, err := h.Read.Product(r.Context(), d.String())
	if err != nil {
		return problem(err)
	}
	w.Header().Set("ETag", httpx.ETag(p.Version))
	return httpx.WriteJSON(w, http.StatusOK, h.clock().product(p))
}

func (h HTTP) productCommand(w http.ResponseWriter, r *http.Request, d product.DIN, fn func(ctx context.Context, repos app.Repositories) (*product.Product, error)) error {
	ctx := r.Context()
	var p *product.Product
	if err := h.UoW.Do(ctx, func(repos app.Repositories) error {
		var err error
		p, err = fn(ctx, repos)
		return err
	}); err != nil {
		return problem(err)
	}
	w.Header().Set("ETag", httpx.ETag(p.Version()))
	return httpx.WriteJSON(w, http.StatusOK, h.clock().product(productView(p)))
}

func (h HTTP) startCulture(w http.ResponseWriter, r *http.Request) error {
	d, err := pathDIN(r)
	if err != nil {
		return err
	}
	return h.productCommand(w, r, d, func(ctx context.Context, repos app.Repositories) (*product.Product, error) {
		return h.App.StartCulture(ctx, repos, d)
	})
}

func (h HTTP) release(w http.ResponseWriter, r *http.Request) error {
	d, err := pathDIN(r)
	if err != nil {
		return err
	}
	var req releaseRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	qc, err := req.toQC()
	if err != nil {
		return problem(err)
	}
	return h.productCommand(w, r, d, func(ctx context.Context, repos app.Repositories) (*product.Product, error) {
		return h.App.Release(ctx, repos, d, qc)
	})
}

func (h HTTP) fail(w http.ResponseWriter, r *http.Request) error {
	d, err := pathDIN(r)
	if err != nil {
		return err
	}
	reason, err := decodeReason(r)
	if err != nil {
		return err
	}
	return h.productCommand(w, r, d, func(ctx context.Context, repos app.Repositories) (*product.Product, error) {
		return h.App.Fail(ctx, repos, d, reason)
	})
}

func (h HTTP) registerLot(w http.ResponseWriter, r *http.Request) error {
	var req lotRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	in, err := req.toLot(h.Location)
	if err != nil {
		return problem(err)
	}
	ctx := r.Context()
	ps, err := h.Read.Protocols(ctx, in.Program)
	if err != nil {
		return err
	}
	donor := false
	for _, p := range ps {
		donor = donor || p.Protocol.Source == protocol.Donor
	}
	if !donor {
		return httpx.Unprocessable("no donor protocol has this program",
			httpx.FieldError{Field: "program", Message: "is not a program treated with donor products"})
	}
	var l *product.Lot
	var doses []*product.Product
	registered := func() (idempotency.Answer, error) {
		return idempotency.JSON(http.StatusCreated, h.clock().lot(l, in.Program, doses))
	}
	renderKeyed(r, registered)
	if err := h.UoW.Do(ctx, func(repos app.Repositories) error {
		var err error
		l, doses, err = h.App.RegisterLot(ctx, repos, in)
		return err
	}); err != nil {
		return problem(err)
	}
	return writeAnswer(w, registered)
}

// Protocols.

func (h HTTP) listProtocols(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	if err := httpx.CheckQueryNames(qv, "program"); err != nil {
		return err
	}
	ps, err := h.Read.Protocols(r.Context(), qv.Get("program"))
	if err != nil {
		return err
	}
	items := make([]protocolResponse, len(ps))
	for i, p := range ps {
		items[i] = h.clock().protocol(p)
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (h HTTP) getProtocol(w http.ResponseWriter, r *http.Request) error {
	p, err := h.Read.Protocol(r.Context(), r.PathValue("program"), r.PathValue("version"))
	if err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, h.clock().protocol(p))
}

func (h HTTP) putProtocol(w http.ResponseWriter, r *http.Request) error {
	program, version := r.PathValue("program"), r.PathValue("version")
	var req seed.ProtocolJSON
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	var l validation.List
	l.CheckText("program", program, true, 64, false)
	l.CheckText("version", version, true, 64, false)
	l.CheckText("name", req.Name, true, 200, false)
	if req.Program != "" && req.Program != program {
		l.Add("program", "must be the program in the path (or left out)")
	}
	if req.Version != "" && req.Version != version {
		l.Add("version", "must be the version in the path (or left out)")
	}
	if err := l.Err(); err != nil {
		return problem(err)
	}
	req.Program, req.Version = program, version
	p, err := req.ToDomain()
	if err != nil {
		return problem(err)
	}
	ctx := r.Context()
	created, err := h.Admin.PutProtocol(ctx, p, h.now())
	if err != nil {
		return problem(err)
	}
	v, err := h.Read.Protocol(ctx, program, version)
	if err != nil {
		return problem(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return httpx.WriteJSON(w, status, h.clock().protocol(v))
}

// Resources.

func (h HTTP) listResources(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.CheckQueryNames(r.URL.Query()); err != nil {
		return err
	}
	rs, err := h.Read.Resources(r.Context())
	if err != nil {
		return err
	}
	items := make([]resourceResponse, len(rs))
	for i, v := range rs {
		items[i] = h.clock().resource(v)
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (h HTTP) addResource(w http.ResponseWriter, r *http.Request) error {
	var req resourceRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	kind, name, active, err := req.parse()
	if err != nil {
		return problem(err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	v := app.ResourceView{ID: id, Kind: kind, Name: name, Active: active, UpdatedAt: h.now()}
	added := func(v app.ResourceView) (idempotency.Answer, error) {
		return idempotency.JSON(http.StatusCreated, h.clock().resource(v))
	}
	idempotency.RenderWith(r.Context(), added)
	if err := h.Admin.AddResource(r.Context(), v); err != nil {
		return problem(err)
	}
	return writeAnswer(w, func() (idempotency.Answer, error) { return added(v) })
}

func (h HTTP) patchResource(w http.ResponseWriter, r *http.Request) error {
	id, err := httpx.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req resourcePatch
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	var l validation.List
	if req.Name != nil {
		n := l.CheckText("name", *req.Name, true, maxResourceName, false)
		req.Name = &n
	}
	if req.Name == nil && req.Active == nil {
		l.Add("name", "give name, active or both")
	}
	if err := l.Err(); err != nil {
		return problem(err)
	}
	v, err := h.Admin.PatchResource(r.Context(), id, req.Name, req.Active, h.now())
	if err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, h.clock().resource(v))
}

// Calendar.

func (h HTTP) getCalendar(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.CheckQueryNames(r.URL.Query()); err != nil {
		return err
	}
	cal, err := h.Read.Calendar(r.Context())
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, calendarOut(cal, h.Location))
}

func (h HTTP) putHours(w http.ResponseWriter, r *http.Request) error {
	var req hoursRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	hours, err := req.toHours(h.Location)
	if err != nil {
		return problem(err)
	}
	ctx := r.Context()
	if err := h.Admin.ReplaceHours(ctx, hours); err != nil {
		return problem(err)
	}
	return h.getCalendar(w, r)
}

func (h HTTP) addClosure(w http.ResponseWriter, r *http.Request) error {
	var req closureRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	c, err := req.toClosure()
	if err != nil {
		return problem(err)
	}
	closed := func(c calendar.Closure) (idempotency.Answer, error) {
		return idempotency.JSON(http.StatusCreated, seed.ClosureJSON{Date: c.Date.Format(time.DateOnly), Reason: c.Reason})
	}
	idempotency.RenderWith(r.Context(), closed)
	if err := h.Admin.AddClosure(r.Context(), c); err != nil {
		return problem(err)
	}
	return writeAnswer(w, func() (idempotency.Answer, error) { return closed(c) })
}

func (h HTTP) deleteClosure(w http.ResponseWriter, r *http.Request) error {
	day, err := time.Parse(time.DateOnly, r.PathValue("date"))
	if err != nil {
		return httpx.BadRequest("the date in the path is not a date", httpx.FieldError{Field: "date", Message: "must be a date YYYY-MM-DD"})
	}
	if err := h.Admin.DeleteClosure(r.Context(), day); err != nil {
		return problem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Answers of the creating POSTs.

// renderKeyed registers how a keyed request (idempotency.WrapTx) is answered
// once its use case succeeded: render reads the result the handler's
// closure holds by then. Store.Do stores the answer in the use case's own
// transaction.
func renderKeyed(r *http.Request, render func() (idempotency.Answer, error)) {
	idempotency.RenderWith(r.Context(), func(struct{}) (idempotency.Answer, error) { return render() })
}

// writeAnswer sends the answer render gives. A creating POST answers
// through the function it registered with idempotency.RenderWith, so that
// without a key it writes the very bytes and headers a keyed request
// stores and replays.
func writeAnswer(w http.ResponseWriter, render func() (idempotency.Answer, error)) error {
	a, err := render()
	if err != nil {
		return err
	}
	return idempotency.Write(w, a)
}

// Errors.

func identityProblem(e *product.IdentityRefused) *httpx.Problem {
	return httpx.Conflict("infusion refused by the chain-of-identity check: "+string(e.Reason)).
		WithExtension("reason", string(e.Reason))
}

// problems maps scheduling's errors to problems; anything else is a 500.
var problems = func() *httpx.ErrorMap {
	m := httpx.NewErrorMap().
		Is(course.ErrNotFound, httpx.NotFound("no such course")).
		Is(appointment.ErrNotFound, httpx.NotFound("no such appointment")).
		Is(product.ErrNotFound, httpx.NotFound("no such product")).
		Is(app.ErrNoProtocol, httpx.NotFound("no such protocol version")).
		Is(app.ErrNoResource, httpx.NotFound("no such resource")).
		Is(app.ErrNoClosure, httpx.NotFound("the clinic is not closed that day")).
		Is(app.ErrUnknownPatient, httpx.Unprocessable("scheduling does not know this patient",
			httpx.FieldError{Field: "patient_id", Message: "is not a patient scheduling knows"})).
		Is(app.ErrProtocolInUse, httpx.Conflict("in use: a course was planned with this protocol version; publish a new version")).
		Is(app.ErrResourceNameTaken, httpx.Conflict("another resource has this name")).
		Is(app.ErrClosureExists, httpx.Conflict("the clinic is already closed that day")).
		Is(app.ErrNoDose, httpx.Conflict("no released donor dose is available")).
		Is(appointment.ErrNotToday, httpx.Conflict("an appointment is checked in on its day, before it ends")).
		Is(appointment.ErrNotStarted, httpx.Conflict("the appointment has not started yet")).
		Is(appointment.ErrTimes, httpx.Unprocessable("an appointment ends after it starts",
			httpx.FieldError{Field: "end", Message: "must be after start"})).
		Is(course.ErrAlreadyCancelled, httpx.Conflict("the course is already cancelled")).
		Is(product.ErrWrongStatus, httpx.Conflict("not possible in the product's status")).
		Is(product.ErrExpired, httpx.Conflict("the product has expired")).
		Is(product.ErrAlreadyAllocated, httpx.Conflict("the dose is already allocated")).
		Is(app.ErrLotExists, httpx.Conflict("a lot with this DIN is already registered")).
		Is(course.ErrNotFunded, httpx.Conflict("the course is not funded: its culture starts once billing reports the deposit paid"))
	httpx.As(m, func(e *app.ConflictError) *httpx.Problem {
		p := httpx.Conflict("the time collides with another appointment on the same "+e.What).WithExtension("what", e.What)
		if e.With.ID == uuid.Nil {
			return p // the other booking could not be read back
		}
		return p.WithExtension("collides_with", map[string]string{"id": e.With.ID.String(), "kind": e.With.Kind,
			"start": e.With.Start.Format(time.RFC3339), "end": e.With.End.Format(time.RFC3339)})
	})
	httpx.As(m, func(e *app.ViabilityError) *httpx.Problem {
		return httpx.Conflict("refused: "+e.Reason).
			WithExtension("reason", e.Reason).WithExtension("appointment_id", e.AppointmentID.String())
	})
	httpx.As(m, func(e *appointment.StateError) *httpx.Problem {
		return httpx.Conflict(e.Error()).WithExtension("current_status", string(e.Status))
	})
	httpx.As(m, func(e *course.StateError) *httpx.Problem {
		return httpx.Conflict(e.Error()).WithExtension("current_status", string(e.Status))
	})
	httpx.As(m, func(e *product.ReleaseRefused) *httpx.Problem {
		return httpx.Unprocessable("the QC values miss the protocol's release criteria").WithExtension("missed", e.Missed)
	})
	httpx.As(m, identityProblem)
	m.Is(app.ErrOutsideHours, httpx.Unprocessable("outside the clinic's opening hours",
		httpx.FieldError{Field: "start", Message: "the appointment must lie inside the clinic's opening hours"}))
	m.Is(protocol.ErrInvalid, httpx.Unprocessable("the protocol is not valid"))
	m.Is(calendar.ErrInvalid, httpx.Unprocessable("the calendar is not valid"))
	return m
}()

// problem maps err with problems.
func problem(err error) error {
	p := problems.Problem(err)
	if p == nil {
		return err
	}
	// An invalid protocol or calendar says what is wrong with it (reference
	// data, no personal data); an opening-hours refusal names the time.
	if errors.Is(err, protocol.ErrInvalid) || errors.Is(err, calendar.ErrInvalid) || errors.Is(err, app.ErrOutsideHours) {
		p.Detail = err.Error()
	}
	return p
}
