package ports

import (
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/seed"
)

// Times go out in the clinic's zone with its offset
// ("2026-12-01T09:00:00+08:00"): the instant is the same as in UTC, and the
// wall clock is the one the clinic's staff read. Dates are the clinic's.

// clock formats instants in the clinic's zone.
type clock struct{ loc *time.Location }

func (c clock) ts(t time.Time) string { return t.In(c.loc).Format(time.RFC3339) }

func (c clock) opt(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := c.ts(t)
	return &s
}

func optUUID(id uuid.UUID) *string {
	if id == uuid.Nil {
		return nil
	}
	s := id.String()
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func optInt64(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

// dinOut is a product id as the API shows it: the DIN with its check
// character, as the bedside scanner reads it.
func dinOut(s string) string {
	d, err := product.ParseDIN(s)
	if err != nil {
		return s
	}
	return d.String() + string(d.Check())
}

func optDIN(s string) *string {
	if s == "" {
		return nil
	}
	out := dinOut(s)
	return &out
}

// parseInstant reads an RFC 3339 time with its offset into l's field.
func parseInstant(l *validation.List, field, s string) time.Time {
	if s == "" {
		l.Add(field, "is required")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		l.Add(field, "must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00+08:00")
		return time.Time{}
	}
	return t.UTC()
}

// parseDate reads a date YYYY-MM-DD as midnight UTC of that date.
func parseDate(l *validation.List, field, s string) time.Time {
	if s == "" {
		l.Add(field, "is required")
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		l.Add(field, "must be a date YYYY-MM-DD")
		return time.Time{}
	}
	return t
}

// Appointments.

type appointmentResponse struct {
	ID             string  `json:"id"`
	CourseID       *string `json:"course_id"`
	Cycle          *int    `json:"cycle"`
	Step           *int    `json:"step"`
	Session        *int    `json:"session"`
	PatientID      string  `json:"patient_id"`
	Program        *string `json:"program"`
	Kind           string  `json:"kind"`
	ResourceID     string  `json:"resource_id"`
	ResourceKind   string  `json:"resource_kind"`
	PatientPresent bool    `json:"patient_present"`
	Start          string  `json:"start"`
	End            string  `json:"end"`
	BlockedUntil   string  `json:"blocked_until"`
	Status         string  `json:"status"`
	ProductID      *string `json:"product_id"`
	DoseCells      *int64  `json:"dose_cells"`
	Reason         *string `json:"reason"`
	CheckedInAt    *string `json:"checked_in_at"`
	CompletedAt    *string `json:"completed_at"`
	Version        int64   `json:"version"`
	CreatedAt      string  `json:"created_at"`
	UpdatedAt      string  `json:"updated_at"`
}

func (c clock) appointment(v app.AppointmentView) appointmentResponse {
	return appointmentResponse{ID: v.ID.String(), CourseID: optUUID(v.CourseID), Cycle: optInt(v.Cycle), Step: optInt(v.Step),
		Session: optInt(v.Session), PatientID: v.PatientID.String(), Program: optString(v.Program), Kind: v.Kind,
		ResourceID: v.ResourceID.String(), ResourceKind: v.ResourceKind, PatientPresent: v.PatientPresent,
		Start: c.ts(v.Start), End: c.ts(v.End), BlockedUntil: c.ts(v.BlockedUntil), Status: v.Status,
		ProductID: optDIN(v.ProductID), DoseCells: optInt64(v.DoseCells), Reason: optString(v.Reason),
		CheckedInAt: c.opt(v.CheckedInAt), CompletedAt: c.opt(v.CompletedAt), Version: v.Version,
		CreatedAt: c.ts(v.CreatedAt), UpdatedAt: c.ts(v.UpdatedAt)}
}

// appointmentView is the read model of an appointment the use case returned.
func appointmentView(a *appointment.Appointment) app.AppointmentView {
	s := a.State()
	return app.AppointmentView{ID: s.ID, CourseID: s.CourseID, Cycle: s.Cycle, Step: s.Step, Session: s.Session,
		PatientID: s.PatientID, Program: s.Program, Kind: s.Kind, ResourceID: s.ResourceID, ResourceKind: s.ResourceKind,
		PatientPresent: s.PatientPresent, Start: s.Start, End: s.End, BlockedUntil: s.BlockedUntil,
		Status: string(s.Status), ProductID: s.ProductID, DoseCells: s.Dose, Reason: s.Reason,
		CheckedInAt: s.CheckedInAt, CompletedAt: s.CompletedAt, Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

type bookRequest struct {
	PatientID  string `json:"patient_id"`
	Kind       string `json:"kind"`
	ResourceID string `json:"resource_id"`
	Start      string `json:"start"`
	End        string `json:"end"`
}

func (r bookRequest) toAdHoc() (app.AdHoc, error) {
	var l validation.List
	var in app.AdHoc
	in.PatientID = parseUUID(&l, "patient_id", r.PatientID)
	in.ResourceID = parseUUID(&l, "resource_id", r.ResourceID)
	if r.Kind == "" {
		l.Add("kind", "is required")
	}
	in.Kind = r.Kind
	in.Start = parseInstant(&l, "start", r.Start)
	in.End = parseInstant(&l, "end", r.End)
	return in, l.Err()
}

func parseUUID(l *validation.List, field, s string) uuid.UUID {
	if s == "" {
		l.Add(field, "is required")
		return uuid.Nil
	}
	id, err := uuid.Parse(s)
	if err != nil || id == uuid.Nil || len(s) != 36 {
		l.Add(field, "must be a UUID")
		return uuid.Nil
	}
	return id
}

type rescheduleRequest struct {
	Start string `json:"start"`
	Scope string `json:"scope,omitempty"`
}

func (r rescheduleRequest) parse() (time.Time, app.Scope, error) {
	var l validation.List
	start := parseInstant(&l, "start", r.Start)
	scope := app.Scope(r.Scope)
	switch scope {
	case "":
		scope = app.This
	case app.This, app.Following:
	default:
		l.Add("scope", `must be "this" or "following"`)
	}
	return start, scope, l.Err()
}

// maxReason bounds reasons (cancellations, holds, failures).
const maxReason = 200

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (r reasonRequest) parse() (string, error) {
	var l validation.List
	reason := l.CheckText("reason", r.Reason, true, maxReason, false)
	return reason, l.Err()
}

// completeRequest is {} for anything but an infusion, or the bedside scan
// of an infusion.
type completeRequest struct {
	ProductID *string `json:"product_id"`
	PatientID *string `json:"patient_id"`
	BirthDate *string `json:"birth_date"`
	DoseCells *int64  `json:"dose_cells"`
}

func (r completeRequest) toInfusion() (*app.Infusion, error) {
	if r.ProductID == nil && r.PatientID == nil && r.BirthDate == nil && r.DoseCells == nil {
		return nil, nil
	}
	var l validation.List
	var in app.Infusion
	if r.ProductID == nil {
		l.Add("product_id", "is required: the scanned product id")
	} else if validation.TooLong(*r.ProductID, 64) {
		l.Add("product_id", "is longer than 64 characters")
	} else {
		in.ProductID = *r.ProductID
	}
	in.PatientID = parseUUID(&l, "patient_id", deref(r.PatientID))
	in.BirthDate = parseDate(&l, "birth_date", deref(r.BirthDate))
	if r.DoseCells == nil || *r.DoseCells <= 0 {
		l.Add("dose_cells", "must be a positive number of cells")
	} else {
		in.DoseCells = *r.DoseCells
	}
	return &in, l.Err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type completeResponse struct {
	Appointment appointmentResponse `json:"appointment"`
	// ProductID is the product collected (a draw) or infused.
	ProductID *string `json:"product_id"`
}

// Courses.

type courseResponse struct {
	ID              string                `json:"id"`
	PatientID       string                `json:"patient_id"`
	Program         string                `json:"program"`
	ProtocolVersion string                `json:"protocol_version"`
	Status          string                `json:"status"`
	ResumesTo       *string               `json:"resumes_to"`
	Reason          *string               `json:"reason"`
	Detail          *string               `json:"detail"`
	PreferredStart  *string               `json:"preferred_start"`
	FundedAt        *string               `json:"funded_at"`
	Cycles          []cycleResponse       `json:"cycles"`
	Other           []appointmentResponse `json:"other_appointments"`
	Version         int64                 `json:"version"`
	CreatedAt       string                `json:"created_at"`
	UpdatedAt       string                `json:"updated_at"`
}

type cycleResponse struct {
	Number       int                   `json:"number"`
	Phase        string                `json:"phase"`
	TargetDate   string                `json:"target_date"`
	Status       string                `json:"status"`
	Appointments []appointmentResponse `json:"appointments"`
	Product      *productResponse      `json:"product"`
	Earlier      []productResponse     `json:"earlier_products"`
}

func (c clock) course(p app.CoursePlan) courseResponse {
	out := courseResponse{ID: p.ID.String(), PatientID: p.PatientID.String(), Program: p.Program,
		ProtocolVersion: p.ProtocolVersion, Status: p.Status, Reason: optString(p.Reason), Detail: optString(p.Detail),
		Cycles: []cycleResponse{}, Other: []appointmentResponse{}, Version: p.Version,
		CreatedAt: c.ts(p.CreatedAt), UpdatedAt: c.ts(p.UpdatedAt)}
	if p.Status == "on_hold" {
		out.ResumesTo = optString(p.HeldFrom)
	}
	if !p.PreferredStart.IsZero() {
		d := p.PreferredStart.Format(time.DateOnly)
		out.PreferredStart = &d
	}
	if !p.FundedAt.IsZero() {
		f := c.ts(p.FundedAt)
		out.FundedAt = &f
	}
	for _, cy := range p.Cycles {
		cr := cycleResponse{Number: cy.Number, Phase: cy.Phase, TargetDate: cy.TargetDate.Format(time.DateOnly),
			Status: cy.Status, Appointments: []appointmentResponse{}, Earlier: []productResponse{}}
		for _, a := range cy.Appointments {
			cr.Appointments = append(cr.Appointments, c.appointment(a))
		}
		for i, pr := range cy.Products {
			if i == 0 {
				r := c.product(pr)
				cr.Product = &r
				continue
			}
			cr.Earlier = append(cr.Earlier, c.product(pr))
		}
		out.Cycles = append(out.Cycles, cr)
	}
	for _, a := range p.Other {
		out.Other = append(out.Other, c.appointment(a))
	}
	return out
}

// Products.

type qcResponse struct {
	ViabilityPct     float64 `json:"viability_pct"`
	PurityPct        float64 `json:"purity_pct"`
	EndotoxinEUPerML float64 `json:"endotoxin_eu_per_ml"`
	Sterility        string  `json:"sterility"`
	Mycoplasma       string  `json:"mycoplasma"`
}

type productResponse struct {
	ID               string      `json:"id"`
	Label            string      `json:"label"`
	Source           string      `json:"source"`
	LotID            *string     `json:"lot_id"`
	PatientID        *string     `json:"patient_id"`
	CourseID         *string     `json:"course_id"`
	Cycle            *int        `json:"cycle"`
	Status           string      `json:"status"`
	CollectedAt      *string     `json:"collected_at"`
	CultureStartedAt *string     `json:"culture_started_at"`
	ReleasedAt       *string     `json:"released_at"`
	ExpiresAt        *string     `json:"expires_at"`
	FailedAt         *string     `json:"failed_at"`
	FailReason       *string     `json:"fail_reason"`
	QC               *qcResponse `json:"qc"`
	AllocatedAt      *string     `json:"allocated_at"`
	InfusedAt        *string     `json:"infused_at"`
	AppointmentID    *string     `json:"appointment_id"`
	DoseCells        *int64      `json:"dose_cells"`
	Version          int64       `json:"version"`
	UpdatedAt        string      `json:"updated_at"`
}

func (c clock) product(v app.ProductView) productResponse {
	out := productResponse{ID: dinOut(v.DIN), Label: v.DIN, Source: v.Source, LotID: optUUID(v.LotID),
		PatientID: optUUID(v.PatientID), CourseID: optUUID(v.CourseID), Cycle: optInt(v.Cycle), Status: v.Status,
		CollectedAt: c.opt(v.CollectedAt), CultureStartedAt: c.opt(v.CultureStartedAt), ReleasedAt: c.opt(v.ReleasedAt),
		ExpiresAt: c.opt(v.ExpiresAt), FailedAt: c.opt(v.FailedAt), FailReason: optString(v.FailReason),
		AllocatedAt: c.opt(v.AllocatedAt), InfusedAt: c.opt(v.InfusedAt), AppointmentID: optUUID(v.AppointmentID),
		DoseCells: optInt64(v.DoseCells), Version: v.Version, UpdatedAt: c.ts(v.UpdatedAt)}
	if d, err := product.ParseDIN(v.DIN); err == nil {
		out.Label = d.Label()
	}
	if q := v.QC; q != nil {
		out.QC = &qcResponse{ViabilityPct: q.ViabilityPct, PurityPct: q.PurityPct, EndotoxinEUPerML: q.EndotoxinEUPerML,
			Sterility: q.Sterility, Mycoplasma: q.Mycoplasma}
	}
	return out
}

// productView is the read model of a product the use case returned.
func productView(p *product.Product) app.ProductView {
	v := app.ProductView{ID: p.ID(), DIN: p.DIN().String(), Source: string(p.Source()), LotID: p.LotID(),
		PatientID: p.PatientID(), CourseID: p.CourseID(), Cycle: p.Cycle(), Status: string(p.Status()),
		CollectedAt: p.CollectedAt(), CultureStartedAt: p.CultureStartedAt(), ReleasedAt: p.ReleasedAt(),
		ExpiresAt: p.ExpiresAt(), FailedAt: p.FailedAt(), FailReason: p.FailReason(), AllocatedAt: p.AllocatedAt(),
		InfusedAt: p.InfusedAt(), AppointmentID: p.AppointmentID(), DoseCells: p.DoseCells(), Version: p.Version(),
		UpdatedAt: p.UpdatedAt()}
	if q := p.QC(); q.Sterility != "" {
		v.QC = &app.QCView{ViabilityPct: q.ViabilityPct, PurityPct: q.PurityPct, EndotoxinEUPerML: q.EndotoxinEUPerML,
			Sterility: string(q.Sterility), Mycoplasma: string(q.Mycoplasma)}
	}
	return v
}

// releaseRequest is the QC result. Every value is required: a missing
// measurement is not a zero.
type releaseRequest struct {
	ViabilityPct     *float64 `json:"viability_pct"`
	PurityPct        *float64 `json:"purity_pct"`
	EndotoxinEUPerML *float64 `json:"endotoxin_eu_per_ml"`
	Sterility        string   `json:"sterility"`
	Mycoplasma       string   `json:"mycoplasma"`
}

func (r releaseRequest) toQC() (product.QC, error) {
	var l validation.List
	num := func(field string, v *float64) float64 {
		if v == nil {
			l.Add(field, "is required")
			return 0
		}
		return *v
	}
	qc := product.QC{ViabilityPct: num(product.CriterionViability, r.ViabilityPct), PurityPct: num(product.CriterionPurity, r.PurityPct),
		EndotoxinEUPerML: num(product.CriterionEndotoxin, r.EndotoxinEUPerML), Sterility: product.Result(r.Sterility),
		Mycoplasma: product.Result(r.Mycoplasma)}
	if err := l.Merge(qc.Validate()); err != nil {
		return qc, err
	}
	return qc, l.Err()
}

// Donor lots.

// maxLotDoses bounds a lot's doses (each takes a DIN in the request's
// transaction).
const maxLotDoses = 500

type lotRequest struct {
	Program          string `json:"program"`
	DIN              string `json:"din"`
	DonorID          string `json:"donor_id"`
	Doses            int    `json:"doses"`
	CollectedAt      string `json:"collected_at"`
	InfectionTestsOn string `json:"infection_tests_on"`
	ExpiresAt        string `json:"expires_at"`
}

func (r lotRequest) toLot(loc *time.Location) (app.Lot, error) {
	var l validation.List
	out := app.Lot{Program: l.CheckText("program", r.Program, true, 64, false), Doses: r.Doses}
	if r.Doses < 1 || r.Doses > maxLotDoses {
		l.Add("doses", "must be from 1 to 500")
	}
	switch d, err := product.ParseDIN(r.DIN); {
	case r.DIN == "":
		l.Add("din", "is required")
	case err != nil:
		l.Add("din", "is not an ISBT 128 DIN with a matching check character")
	default:
		out.Input.DIN = d
	}
	out.Input.DonorID = r.DonorID
	// The infection tests' day is compared with the collection's day in
	// the clinic's zone: both are given to the domain there.
	out.Input.CollectedAt = parseInstant(&l, "collected_at", r.CollectedAt).In(loc)
	if day := parseDate(&l, "infection_tests_on", r.InfectionTestsOn); !day.IsZero() {
		out.Input.InfectionTestsOn = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
	}
	out.Input.ExpiresAt = parseInstant(&l, "expires_at", r.ExpiresAt)
	return out, l.Err()
}

type lotResponse struct {
	ID               string   `json:"id"`
	DIN              string   `json:"din"`
	Program          string   `json:"program"`
	DonorID          string   `json:"donor_id"`
	Doses            int      `json:"doses"`
	CollectedAt      string   `json:"collected_at"`
	InfectionTestsOn string   `json:"infection_tests_on"`
	ExpiresAt        string   `json:"expires_at"`
	RegisteredAt     string   `json:"registered_at"`
	DoseIDs          []string `json:"dose_ids"`
}

func (c clock) lot(l *product.Lot, program string, doses []*product.Product) lotResponse {
	out := lotResponse{ID: l.ID().String(), DIN: dinOut(l.DIN().String()), Program: program, DonorID: l.DonorID(),
		Doses: l.Doses(), CollectedAt: c.ts(l.CollectedAt()), InfectionTestsOn: l.InfectionTestsOn().In(c.loc).Format(time.DateOnly),
		ExpiresAt: c.ts(l.ExpiresAt()), RegisteredAt: c.ts(l.RegisteredAt()), DoseIDs: []string{}}
	for _, d := range doses {
		out.DoseIDs = append(out.DoseIDs, dinOut(d.DIN().String()))
	}
	return out
}

// Protocols.

type protocolResponse struct {
	seed.ProtocolJSON
	InUse     bool   `json:"in_use"`
	UpdatedAt string `json:"updated_at"`
}

func (c clock) protocol(v app.ProtocolView) protocolResponse {
	return protocolResponse{ProtocolJSON: seed.FromProtocol(v.Protocol), InUse: v.InUse, UpdatedAt: c.ts(v.UpdatedAt)}
}

// Resources.

type resourceRequest struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Active *bool  `json:"active"`
}

const maxResourceName = 100

func (r resourceRequest) parse() (kind, name string, active bool, err error) {
	var l validation.List
	switch r.Kind {
	case "":
		l.Add("kind", "is required")
	case "infusion_chair", "draw_station", "apheresis_machine", "culture_slot":
	default:
		l.Add("kind", "must be infusion_chair, draw_station, apheresis_machine or culture_slot")
	}
	name = l.CheckText("name", r.Name, true, maxResourceName, false)
	active = r.Active == nil || *r.Active
	return r.Kind, name, active, l.Err()
}

type resourcePatch struct {
	Name   *string `json:"name"`
	Active *bool   `json:"active"`
}

type resourceResponse struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Active    bool   `json:"active"`
	UpdatedAt string `json:"updated_at"`
}

func (c clock) resource(v app.ResourceView) resourceResponse {
	return resourceResponse{ID: v.ID.String(), Kind: v.Kind, Name: v.Name, Active: v.Active, UpdatedAt: c.ts(v.UpdatedAt)}
}

// Calendar.

var weekdayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

type hoursRequest struct {
	Hours []seed.HoursJSON `json:"hours"`
}

func (r hoursRequest) toHours(loc *time.Location) ([]calendar.Hours, error) {
	var l validation.List
	if r.Hours == nil {
		l.Add("hours", "is required (an empty list closes every weekday)")
	}
	if len(r.Hours) > 7*8 {
		l.Add("hours", "has more than 56 spans")
	}
	out := make([]calendar.Hours, 0, len(r.Hours))
	for i, h := range r.Hours {
		field := func(name string) string { return "hours[" + strconv.Itoa(i) + "]." + name }
		wd, ok := seed.Weekdays[strings.ToLower(h.Weekday)]
		if !ok {
			l.Add(field("weekday"), `must be one of "mon", "tue", "wed", "thu", "fri", "sat", "sun"`)
		}
		open, err := calendar.ParseTimeOfDay(h.Opens)
		if err != nil {
			l.Add(field("opens"), "must be a time HH:MM")
		}
		closes, err2 := calendar.ParseTimeOfDay(h.Closes)
		if err2 != nil {
			l.Add(field("closes"), "must be a time HH:MM, 24:00 at the latest")
		}
		out = append(out, calendar.Hours{Weekday: wd, Open: open, Close: closes})
		if ok && err == nil && err2 == nil && open >= closes {
			l.Add(field("closes"), "must be after opens")
		}
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	if err := (calendar.Calendar{Location: loc, Hours: out}).Validate(); err != nil {
		return nil, validation.Field("hours", strings.TrimPrefix(err.Error(), calendar.ErrInvalid.Error()+": "))
	}
	return out, nil
}

type closureRequest struct {
	Date   string `json:"date"`
	Reason string `json:"reason"`
}

func (r closureRequest) toClosure() (calendar.Closure, error) {
	var l validation.List
	c := calendar.Closure{Date: parseDate(&l, "date", r.Date)}
	c.Reason = l.CheckText("reason", r.Reason, true, maxReason, false)
	return c, l.Err()
}

type calendarResponse struct {
	TimeZone string             `json:"time_zone"`
	Hours    []seed.HoursJSON   `json:"hours"`
	Closures []seed.ClosureJSON `json:"closures"`
}

func calendarOut(cal calendar.Calendar, loc *time.Location) calendarResponse {
	out := calendarResponse{TimeZone: loc.String(), Hours: []seed.HoursJSON{}, Closures: []seed.ClosureJSON{}}
	for _, h := range cal.Hours {
		out.Hours = append(out.Hours, seed.HoursJSON{Weekday: weekdayNames[h.Weekday], Opens: h.Open.String(), Closes: h.Close.String()})
	}
	for _, c := range cal.Closures {
		out.Closures = append(out.Closures, seed.ClosureJSON{Date: c.Date.Format(time.DateOnly), Reason: c.Reason})
	}
	return out
}
