package journey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// ---- the front desk (intake) -------------------------------------------

// Register registers the patient at the front desk.
func (d *Driver) Register(ctx context.Context, p NewPatient) (Patient, error) {
	var out Patient
	err := d.call(ctx, httpx.RoleFrontDesk, http.MethodPost, d.Intake+"/v1/patients", p, &out,
		"Idempotency-Key", d.key("register"))
	if err != nil {
		return Patient{}, fmt.Errorf("register the patient: %w", err)
	}
	return out, nil
}

// Program reads an intake program with its screening checklist.
func (d *Driver) Program(ctx context.Context, code string) (Program, error) {
	var list struct {
		Items []Program `json:"items"`
	}
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodGet, d.Intake+"/v1/programs", nil, &list); err != nil {
		return Program{}, fmt.Errorf("read the programs: %w", err)
	}
	for _, p := range list.Items {
		if p.Code == code {
			return p, nil
		}
	}
	return Program{}, fmt.Errorf("intake has no program %q", code)
}

// RequestCourse does what the front desk does before a course: records
// the patient's signed treatment consent for the program (and the data
// processing consent), screens the patient against the program's
// checklist (an indication the program treats, every question answered
// the way that does not disqualify) and requests the course, from today
// in the clinic's zone. It sets p.CourseID and p.Program.
func (d *Driver) RequestCourse(ctx context.Context, p *Patient, program string) error {
	prog, err := d.Program(ctx, program)
	if err != nil {
		return err
	}
	if len(prog.Screening.Indications) == 0 {
		return fmt.Errorf("program %s treats no indication", program)
	}
	now, err := d.now(ctx)
	if err != nil {
		return err
	}
	signed := now.Add(-time.Minute).Format(time.RFC3339)
	consents := []map[string]any{
		{"kind": "treatment", "program": program, "protocol_id": prog.ProtocolVersion, "form_version": "ICF-" + prog.ProtocolVersion,
			"signed_at": signed, "signed_by": "patient"},
		{"kind": "data_processing", "form_version": "DP-2026.1", "signed_at": signed, "signed_by": "patient"},
	}
	for _, c := range consents {
		if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodPost, d.Intake+"/v1/patients/"+p.ID+"/consents", c, nil,
			"Idempotency-Key", d.key("consent")); err != nil {
			return fmt.Errorf("record the %s consent: %w", c["kind"], err)
		}
	}
	indication := map[string]any{"system": "ICD-10", "code": strings.ToUpper(prog.Screening.Indications[0])}
	answers := map[string]bool{}
	for _, q := range prog.Screening.Questions {
		answers[q.ID] = !q.DisqualifyingAnswer
	}
	var screening struct {
		Eligible bool  `json:"eligible"`
		Reasons  []any `json:"reasons"`
	}
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodPost, d.Intake+"/v1/patients/"+p.ID+"/screenings",
		map[string]any{"program": program, "indication": indication, "answers": answers}, &screening,
		"Idempotency-Key", d.key("screening")); err != nil {
		return fmt.Errorf("screen the patient: %w", err)
	}
	if !screening.Eligible {
		return fmt.Errorf("the patient is not eligible for %s: %v", program, screening.Reasons)
	}
	zone, err := d.clinicZone(ctx)
	if err != nil {
		return err
	}
	var course struct {
		ID string `json:"id"`
	}
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodPost, d.Intake+"/v1/patients/"+p.ID+"/courses",
		map[string]any{"program": program, "indication": indication, "preferred_start": now.In(zone).Format(time.DateOnly)}, &course,
		"Idempotency-Key", d.key("course")); err != nil {
		return fmt.Errorf("request the course: %w", err)
	}
	p.CourseID, p.Program = course.ID, program
	return nil
}

// CancelCourse is the front desk cancelling the course at intake
// (CourseCancellationRequested): scheduling cancels what is ahead and
// publishes CourseCancelled, which billing settles under the policy.
func (d *Driver) CancelCourse(ctx context.Context, courseID, reason string) error {
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodPost, d.Intake+"/v1/courses/"+courseID+"/cancel",
		map[string]any{"reason": reason}, nil); err != nil {
		return fmt.Errorf("cancel course %s: %w", courseID, err)
	}
	return nil
}

// Today is the clinic's date now (YYYY-MM-DD, in its zone, by the
// services' clock).
func (d *Driver) Today(ctx context.Context) (string, error) {
	zone, err := d.clinicZone(ctx)
	if err != nil {
		return "", err
	}
	now, err := d.now(ctx)
	if err != nil {
		return "", err
	}
	return now.In(zone).Format(time.DateOnly), nil
}

// clinicZone is the clinic's time zone, as scheduling's calendar gives it.
func (d *Driver) clinicZone(ctx context.Context) (*time.Location, error) {
	var cal struct {
		TimeZone string `json:"time_zone"`
	}
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodGet, d.Scheduling+"/v1/calendar", nil, &cal); err != nil {
		return nil, fmt.Errorf("read the clinic's calendar: %w", err)
	}
	loc, err := time.LoadLocation(cal.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("the clinic's zone %q: %w", cal.TimeZone, err)
	}
	return loc, nil
}

// ---- scheduling ------------------------------------------------------------

// Course reads scheduling's plan of the course.
func (d *Driver) Course(ctx context.Context, courseID string) (Course, error) {
	var c Course
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodGet, d.Scheduling+"/v1/courses/"+courseID, nil, &c); err != nil {
		return Course{}, err
	}
	return c, nil
}

// WaitCourse waits until scheduling shows the course and cond holds.
func (d *Driver) WaitCourse(ctx context.Context, what, courseID string, cond func(Course) bool) (Course, error) {
	var c Course
	err := d.WaitFor(ctx, what, func(ctx context.Context) (bool, error) {
		var err error
		seen, err := d.Course(ctx, courseID)
		if err == nil {
			c = seen
		}
		return err == nil && cond(seen), err
	})
	if err != nil && c.ID != "" {
		err = fmt.Errorf("%w (last seen: %s, version %d)", err, c.Status, c.Version)
	}
	return c, err
}

// ErrUnplanned: scheduling could not plan the course.
var ErrUnplanned = errors.New("scheduling could not plan the course")

// WaitPlanned waits until scheduling has planned the course (its first
// cycle's chain booked).
func (d *Driver) WaitPlanned(ctx context.Context, courseID string) (Course, error) {
	c, err := d.WaitCourse(ctx, "scheduling plans the course", courseID, func(c Course) bool { return c.Status != "requested" })
	if err != nil {
		return c, err
	}
	if c.Status != "planned" {
		reason := ""
		if c.Reason != nil {
			reason = *c.Reason
		}
		return c, fmt.Errorf("course %s is %s (%s): %w", courseID, c.Status, reason, ErrUnplanned)
	}
	return c, nil
}

// WaitFunded waits until scheduling has heard that the deposit is paid.
func (d *Driver) WaitFunded(ctx context.Context, courseID string) (Course, error) {
	return d.WaitCourse(ctx, "scheduling funds the course", courseID, func(c Course) bool { return c.FundedAt != nil })
}

// Appointments lists the course's appointments, every page.
func (d *Driver) Appointments(ctx context.Context, courseID string) ([]Appointment, error) {
	var out []Appointment
	q := url.Values{"course_id": {courseID}, "limit": {"200"}}
	for {
		var page struct {
			Items      []Appointment `json:"items"`
			NextCursor *string       `json:"next_cursor"`
		}
		if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodGet, d.Scheduling+"/v1/appointments?"+q.Encode(), nil, &page); err != nil {
			return nil, fmt.Errorf("list the appointments of course %s: %w", courseID, err)
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out, nil
		}
		q.Set("cursor", *page.NextCursor)
	}
}

// Protocol reads a scheduling protocol.
func (d *Driver) Protocol(ctx context.Context, program, version string) (Protocol, error) {
	var p Protocol
	if err := d.call(ctx, httpx.RoleNurse, http.MethodGet,
		d.Scheduling+"/v1/protocols/"+url.PathEscape(program)+"/"+url.PathEscape(version), nil, &p); err != nil {
		return Protocol{}, fmt.Errorf("read protocol %s %s: %w", program, version, err)
	}
	return p, nil
}

// checkIn moves the clock to the appointment's start, when it is ahead,
// and checks the patient in (nurse).
func (d *Driver) checkIn(ctx context.Context, a Appointment) error {
	if _, err := d.advanceTo(ctx, a.Start); err != nil {
		return err
	}
	if err := d.call(ctx, httpx.RoleNurse, http.MethodPost, d.Scheduling+"/v1/appointments/"+a.ID+"/check-in", nil, nil); err != nil {
		return fmt.Errorf("check in for the %s: %w", a.Kind, err)
	}
	return nil
}

// Draw is the nurse's draw of the cycle: on its day (the clock moved
// there), the patient checked in and the draw completed. It returns the
// new product's DIN.
func (d *Driver) Draw(ctx context.Context, courseID string, cycle int) (string, error) {
	c, err := d.Course(ctx, courseID)
	if err != nil {
		return "", err
	}
	a, ok := c.Appointment(cycle, "draw")
	if !ok {
		return "", fmt.Errorf("course %s has no draw booked in cycle %d", courseID, cycle)
	}
	if err := d.checkIn(ctx, a); err != nil {
		return "", err
	}
	var done struct {
		ProductID *string `json:"product_id"`
	}
	if err := d.call(ctx, httpx.RoleNurse, http.MethodPost, d.Scheduling+"/v1/appointments/"+a.ID+"/complete", map[string]any{}, &done); err != nil {
		return "", fmt.Errorf("complete the draw: %w", err)
	}
	if done.ProductID == nil {
		return "", errors.New("the completed draw names no product")
	}
	return *done.ProductID, nil
}

// StartCulture is the lab starting the product's culture. Before the
// course is funded scheduling refuses it: an *APIError with status 409.
func (d *Driver) StartCulture(ctx context.Context, din string) (Product, error) {
	var p Product
	if err := d.call(ctx, httpx.RoleLab, http.MethodPost, d.Scheduling+"/v1/products/"+url.PathEscape(din)+"/culture", nil, &p); err != nil {
		return Product{}, fmt.Errorf("start the culture of %s: %w", din, err)
	}
	return p, nil
}

// Release is the lab releasing the product when the cycle's culture
// ends (the clock moved there): qc must meet the protocol's criteria.
func (d *Driver) Release(ctx context.Context, courseID string, cycle int, din string, qc QC) (Product, error) {
	c, err := d.Course(ctx, courseID)
	if err != nil {
		return Product{}, err
	}
	if a, ok := c.Appointment(cycle, "culture"); ok {
		if _, err := d.advanceTo(ctx, a.End); err != nil {
			return Product{}, err
		}
	}
	var p Product
	if err := d.call(ctx, httpx.RoleLab, http.MethodPost, d.Scheduling+"/v1/products/"+url.PathEscape(din)+"/release", qc, &p); err != nil {
		return Product{}, fmt.Errorf("release %s: %w", din, err)
	}
	return p, nil
}

// FailProduct is the lab failing the product's QC (ProductFailed):
// scheduling books the cycle again and billing credits it.
func (d *Driver) FailProduct(ctx context.Context, din, reason string) (Product, error) {
	var p Product
	if err := d.call(ctx, httpx.RoleLab, http.MethodPost, d.Scheduling+"/v1/products/"+url.PathEscape(din)+"/fail",
		map[string]any{"reason": reason}, &p); err != nil {
		return Product{}, fmt.Errorf("fail %s: %w", din, err)
	}
	return p, nil
}

// Infuse is the nurse's infusion of the cycle: on its time (the clock
// moved there), the patient checked in, and the bedside scan (the
// product, the patient's id and birth date, the protocol's dose).
func (d *Driver) Infuse(ctx context.Context, p Patient, cycle int, din string) (Appointment, error) {
	c, err := d.Course(ctx, p.CourseID)
	if err != nil {
		return Appointment{}, err
	}
	a, ok := c.Appointment(cycle, "infusion")
	if !ok {
		return Appointment{}, fmt.Errorf("course %s has no infusion booked in cycle %d", p.CourseID, cycle)
	}
	proto, err := d.Protocol(ctx, c.Program, c.ProtocolVersion)
	if err != nil {
		return Appointment{}, err
	}
	if err := d.checkIn(ctx, a); err != nil {
		return Appointment{}, err
	}
	scan := map[string]any{"product_id": din, "patient_id": p.ID, "birth_date": p.BirthDate, "dose_cells": proto.DoseCells}
	var done struct {
		Appointment Appointment `json:"appointment"`
	}
	if err := d.call(ctx, httpx.RoleNurse, http.MethodPost, d.Scheduling+"/v1/appointments/"+a.ID+"/complete", scan, &done); err != nil {
		return Appointment{}, fmt.Errorf("complete the infusion: %w", err)
	}
	return done.Appointment, nil
}

// ---- billing -----------------------------------------------------------------

// Invoices lists the course's invoices (front desk).
func (d *Driver) Invoices(ctx context.Context, courseID string) ([]Invoice, error) {
	var list struct {
		Items []Invoice `json:"items"`
	}
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodGet, d.Billing+"/v1/invoices?course_id="+url.QueryEscape(courseID), nil, &list); err != nil {
		return nil, fmt.Errorf("list the invoices of course %s: %w", courseID, err)
	}
	return list.Items, nil
}

// WaitInvoices waits until billing has invoiced the course (all its
// invoices are issued together, the deposit first).
func (d *Driver) WaitInvoices(ctx context.Context, courseID string) ([]Invoice, error) {
	var invs []Invoice
	err := d.WaitFor(ctx, "billing invoices the course", func(ctx context.Context) (bool, error) {
		var err error
		invs, err = d.Invoices(ctx, courseID)
		return len(invs) > 0, err
	})
	return invs, err
}

// PayDeposit is the cashier taking the deposit at billing's desk, by card:
// the amount due on the deposit invoice, allocated to it, under an
// Idempotency-Key.
func (d *Driver) PayDeposit(ctx context.Context, patientID string, deposit Invoice) (Payment, error) {
	now, err := d.now(ctx)
	if err != nil {
		return Payment{}, err
	}
	body := map[string]any{"patient_id": patientID, "amount": deposit.AmountDue, "method": "card",
		"external_reference": "journey-" + deposit.ID, "received_at": now.Format(time.RFC3339Nano),
		"allocations": []map[string]any{{"invoice_id": deposit.ID, "amount": deposit.AmountDue}}}
	var p Payment
	if err := d.call(ctx, httpx.RoleBilling, http.MethodPost, d.Billing+"/v1/payments", body, &p,
		"Idempotency-Key", d.key("deposit")); err != nil {
		return Payment{}, fmt.Errorf("pay the deposit: %w", err)
	}
	return p, nil
}

// Account reads the patient's account (cashier).
func (d *Driver) Account(ctx context.Context, patientID string) (Account, error) {
	var a Account
	if err := d.call(ctx, httpx.RoleBilling, http.MethodGet, d.Billing+"/v1/accounts/"+patientID, nil, &a); err != nil {
		return Account{}, fmt.Errorf("read the account: %w", err)
	}
	return a, nil
}

// WaitAccount waits until the patient's account satisfies cond.
func (d *Driver) WaitAccount(ctx context.Context, what, patientID string, cond func(Account) bool) (Account, error) {
	var a Account
	err := d.WaitFor(ctx, what, func(ctx context.Context) (bool, error) {
		var err error
		seen, err := d.Account(ctx, patientID)
		if err == nil {
			a = seen
		}
		return err == nil && cond(seen), err
	})
	if err != nil && a.PatientID != "" {
		err = fmt.Errorf("%w (last seen balance: %+v)", err, a.Balance)
	}
	return a, err
}

// CreditNotes lists the course's credit notes.
func (d *Driver) CreditNotes(ctx context.Context, courseID string) ([]CreditNote, error) {
	var list struct {
		Items []CreditNote `json:"items"`
	}
	if err := d.call(ctx, httpx.RoleBilling, http.MethodGet, d.Billing+"/v1/credit-notes?course_id="+url.QueryEscape(courseID), nil, &list); err != nil {
		return nil, fmt.Errorf("list the credit notes of course %s: %w", courseID, err)
	}
	return list.Items, nil
}

// WaitCreditNotes waits until the course has credit notes whose reason
// starts with reason, and returns those.
func (d *Driver) WaitCreditNotes(ctx context.Context, what, courseID, reason string) ([]CreditNote, error) {
	var out []CreditNote
	err := d.WaitFor(ctx, what, func(ctx context.Context) (bool, error) {
		all, err := d.CreditNotes(ctx, courseID)
		out = out[:0]
		for _, n := range all {
			if strings.HasPrefix(n.Reason, reason) {
				out = append(out, n)
			}
		}
		return len(out) > 0, err
	})
	return out, err
}

// LedgerCheck runs billing's ledger check (admin).
func (d *Driver) LedgerCheck(ctx context.Context) (LedgerCheck, error) {
	var c LedgerCheck
	if err := d.call(ctx, httpx.RoleAdmin, http.MethodGet, d.Billing+"/v1/ledger/check", nil, &c); err != nil {
		return LedgerCheck{}, fmt.Errorf("check the ledger: %w", err)
	}
	return c, nil
}

// PriceList reads the price list of the program and protocol version
// that applies on day (YYYY-MM-DD).
func (d *Driver) PriceList(ctx context.Context, program, version, day string) (PriceList, error) {
	q := url.Values{"program": {program}, "protocol_version": {version}, "valid_on": {day}}
	var list struct {
		Items []PriceList `json:"items"`
	}
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodGet, d.Billing+"/v1/price-lists?"+q.Encode(), nil, &list); err != nil {
		return PriceList{}, fmt.Errorf("read the price lists: %w", err)
	}
	if len(list.Items) != 1 {
		return PriceList{}, fmt.Errorf("%d price lists of %s %s apply on %s, want 1", len(list.Items), program, version, day)
	}
	return list.Items[0], nil
}

// Policy reads the program's cancellation policy.
func (d *Driver) Policy(ctx context.Context, program string) (CancellationPolicy, error) {
	var p CancellationPolicy
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodGet, d.Billing+"/v1/cancellation-policies/"+url.PathEscape(program), nil, &p); err != nil {
		return CancellationPolicy{}, fmt.Errorf("read the cancellation policy of %s: %w", program, err)
	}
	return p, nil
}
