package journey

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// The patient journeys `clinicops demo` walks and the end-to-end suite
// checks: one patient through the four services' public APIs, as the front
// desk, the cashier, the nurse, the lab and the clinician would, with the
// system's clock moved to each day that must come.

// Paths are the journeys, by name.
var Paths = []string{"happy", "culture-failed", "cancelled", "consent-withdrawn"}

// Program is the program the journeys enrol in.
const JourneyProgram = "nk-autologous"

// Step is one thing a person did, in the service that took it.
type Step struct {
	Service string
	What    string
	Took    time.Duration
}

// Outcome is what a journey left, for the invariants.
type Outcome struct {
	Path    string
	Patient Patient
	// Infusions are the infusion appointments completed.
	Infusions []string
	// Cultures are the products whose culture started (each earns the lab
	// fee once).
	Cultures []string
	// Failed are the products the lab failed.
	Failed []string
	// InfusedCycles are the cycles whose infusion was given.
	InfusedCycles []int
	// Ended is how the course must end: "completed", "cancelled", or ""
	// for a course still under way.
	Ended string
	// ProtocolVersion, Cycles and PricedOn (the day the course was
	// invoiced) say which price list applies and how it splits.
	ProtocolVersion string
	Cycles          int
	PricedOn        string
}

// Walk runs the path for one new patient, telling report each step.
func (d *Driver) Walk(ctx context.Context, path, given string, report func(Step)) (Outcome, error) {
	w := walker{d: d, report: report, out: Outcome{Path: path}}
	if !slices.Contains(Paths, path) {
		return w.out, fmt.Errorf("no path %q (want one of %v)", path, Paths)
	}
	if err := w.enrol(ctx, given); err != nil {
		return w.out, err
	}
	var err error
	switch path {
	case "happy":
		err = w.happy(ctx)
	case "culture-failed":
		err = w.cultureFailed(ctx)
	case "cancelled":
		err = w.cancelled(ctx)
	case "consent-withdrawn":
		err = w.consentWithdrawn(ctx)
	}
	return w.out, err
}

type walker struct {
	d      *Driver
	report func(Step)
	out    Outcome
	course Course
}

// do runs one person's action and reports it with how long it took.
func (w *walker) do(ctx context.Context, service, what string, fn func(context.Context) error) error {
	start := time.Now()
	if err := fn(ctx); err != nil {
		return fmt.Errorf("%s: %s: %w", service, what, err)
	}
	if w.report != nil {
		w.report(Step{Service: service, What: what, Took: time.Since(start)})
	}
	return nil
}

// demoPhone is a mobile number of its own for each walk: intake refuses a
// second patient with the same name, birth date and phone, and the demo may
// walk the same name again on the same system.
func demoPhone() string { return fmt.Sprintf("+86139%08d", rand.IntN(100_000_000)) }

func (w *walker) enrol(ctx context.Context, given string) error {
	p := &w.out.Patient
	if err := w.do(ctx, "intake", "front desk registers, records consents, screens and requests a course",
		func(ctx context.Context) error {
			var err error
			if *p, err = w.d.Register(ctx, NewPatient{FamilyName: "演示", GivenName: given, BirthDate: "1968-09-14", Sex: "female",
				Phone: demoPhone(), PreferredLanguage: "zh-CN"}); err != nil {
				return err
			}
			if err := w.d.ConsentToSMS(ctx, p.ID); err != nil {
				return err
			}
			return w.d.RequestCourse(ctx, p, JourneyProgram)
		}); err != nil {
		return err
	}
	var err error
	if w.course, err = w.d.WaitPlanned(ctx, p.CourseID); err != nil {
		return err
	}
	w.out.ProtocolVersion, w.out.Cycles = w.course.ProtocolVersion, len(w.course.Cycles)
	if w.out.PricedOn, err = w.d.Today(ctx); err != nil {
		return err
	}
	invs, err := w.d.WaitInvoices(ctx, p.CourseID)
	if err != nil {
		return err
	}
	if _, err := w.d.WaitReminders(ctx, "follow-up schedules the visits' reminders", p.ID,
		func(rs []Reminder) bool { return len(rs) > 0 }); err != nil {
		return err
	}
	deposit, ok := Deposit(invs)
	if !ok {
		return errors.New("billing issued no deposit invoice")
	}
	if err := w.do(ctx, "billing", "cashier takes the deposit ("+deposit.AmountDue.String()+")", func(ctx context.Context) error {
		_, err := w.d.PayDeposit(ctx, p.ID, deposit)
		return err
	}); err != nil {
		return err
	}
	_, err = w.d.WaitFunded(ctx, p.CourseID)
	return err
}

// cycle draws, cultures, releases and infuses one cycle.
func (w *walker) cycle(ctx context.Context, n int) error {
	din, err := w.drawAndCulture(ctx, n)
	if err != nil {
		return err
	}
	return w.releaseAndInfuse(ctx, n, din)
}

// releaseAndInfuse releases the cultured product and infuses it.
func (w *walker) releaseAndInfuse(ctx context.Context, n int, din string) error {
	if err := w.do(ctx, "scheduling", fmt.Sprintf("the culture ends; lab releases %s after QC", din), func(ctx context.Context) error {
		_, err := w.d.Release(ctx, w.out.Patient.CourseID, n, din, GoodQC)
		return err
	}); err != nil {
		return err
	}
	var infusion Appointment
	if err := w.do(ctx, "scheduling", fmt.Sprintf("nurse scans bag %s against the patient and infuses (cycle %d)", din, n),
		func(ctx context.Context) error {
			var err error
			infusion, err = w.d.Infuse(ctx, w.out.Patient, n, din)
			return err
		}); err != nil {
		return err
	}
	w.out.Infusions = append(w.out.Infusions, infusion.ID)
	w.out.InfusedCycles = append(w.out.InfusedCycles, n)
	return w.d.WaitFor(ctx, "follow-up plans the infusion's check-ins", func(ctx context.Context) (bool, error) {
		cs, err := w.d.CheckIns(ctx, w.out.Patient.ID)
		return len(cs) >= 5*len(w.out.Infusions), err
	})
}

func (w *walker) drawAndCulture(ctx context.Context, n int) (string, error) {
	var din string
	if err := w.do(ctx, "scheduling", fmt.Sprintf("nurse draws the blood on the day (cycle %d)", n), func(ctx context.Context) error {
		var err error
		din, err = w.d.Draw(ctx, w.out.Patient.CourseID, n)
		return err
	}); err != nil {
		return "", err
	}
	if err := w.do(ctx, "scheduling", "lab starts the culture of "+din, func(ctx context.Context) error {
		_, err := w.d.StartCulture(ctx, din)
		return err
	}); err != nil {
		return "", err
	}
	w.out.Cultures = append(w.out.Cultures, din)
	return din, nil
}

// happy: every cycle given; after the first infusion a check-in, a grade 3
// adverse event holds the course, a clinician resumes it; the course
// completes and long-term follow-up is scheduled.
func (w *walker) happy(ctx context.Context) error {
	p := w.out.Patient
	for n := 1; n <= len(w.course.Cycles); n++ {
		if n == 1 {
			// The first infusion's reminder goes out while the culture
			// grows.
			din, err := w.drawAndCulture(ctx, n)
			if err != nil {
				return err
			}
			if err := w.reminderBefore(ctx, n, "infusion"); err != nil {
				return err
			}
			if err := w.releaseAndInfuse(ctx, n, din); err != nil {
				return err
			}
		} else if err := w.cycle(ctx, n); err != nil {
			return err
		}
		if n == 1 {
			if err := w.holdAndResume(ctx); err != nil {
				return err
			}
		}
		if n < len(w.course.Cycles) {
			if _, err := w.d.WaitCourse(ctx, fmt.Sprintf("scheduling books cycle %d", n+1), p.CourseID, func(c Course) bool {
				a, ok := c.Appointment(n+1, "draw")
				return ok && a.Status == "booked"
			}); err != nil {
				return err
			}
		}
	}
	w.out.Ended = "completed"
	if _, err := w.d.WaitCourse(ctx, "scheduling completes the course", p.CourseID, func(c Course) bool { return c.Status == "completed" }); err != nil {
		return err
	}
	_, err := w.d.WaitReminders(ctx, "follow-up schedules long-term follow-up", p.ID, func(rs []Reminder) bool {
		n := 0
		for _, r := range rs {
			if r.Kind == "long_term_follow_up" {
				n++
			}
		}
		return n == 3
	})
	return err
}

// reminderBefore moves the clock to the first reminder still to come of
// the cycle's visit of that kind (48 or 24 hours before it, 2 hours before
// an infusion, the preparation instructions before a draw) and waits for
// follow-up to send it through the channel the patient consented to (SMS,
// delivered to the log channel under make run). Any other outcome at its
// time (skipped, failed) stops the journey.
func (w *walker) reminderBefore(ctx context.Context, cycle int, kind string) error {
	c, err := w.d.Course(ctx, w.out.Patient.CourseID)
	if err != nil {
		return err
	}
	visit, ok := c.Appointment(cycle, kind)
	if !ok {
		return fmt.Errorf("scheduling booked no %s in cycle %d", kind, cycle)
	}
	pending := func(rs []Reminder) []Reminder {
		return slices.DeleteFunc(rs, func(r Reminder) bool {
			return r.AppointmentID == nil || *r.AppointmentID != visit.ID || r.Status != "scheduled"
		})
	}
	// Follow-up learns of each booked visit from its own event.
	rs, err := w.d.WaitReminders(ctx, fmt.Sprintf("follow-up has the %s's reminders", kind), w.out.Patient.ID,
		func(rs []Reminder) bool { return len(pending(slices.Clone(rs))) > 0 })
	if err != nil {
		return err
	}
	rs = pending(rs)
	first := slices.MinFunc(rs, func(a, b Reminder) int { return a.DueAt.Compare(b.DueAt) })
	what := fmt.Sprintf("the %s's %d-hour reminder", kind, int(visit.Start.Sub(first.DueAt).Round(time.Hour).Hours()))
	if first.Kind == "draw_preparation" {
		what = "the draw's preparation instructions"
	}
	if err := w.do(ctx, "followup", "the clock reaches "+what, func(ctx context.Context) error {
		return w.d.AdvanceTo(ctx, first.DueAt.Add(time.Minute))
	}); err != nil {
		return err
	}
	rs, err = w.d.WaitReminders(ctx, "follow-up sends it by SMS (to the log channel under make run)", w.out.Patient.ID,
		func(rs []Reminder) bool {
			i := slices.IndexFunc(rs, func(r Reminder) bool { return r.ID == first.ID })
			return i >= 0 && rs[i].Status != "scheduled"
		})
	if err != nil {
		return err
	}
	sent := rs[slices.IndexFunc(rs, func(r Reminder) bool { return r.ID == first.ID })]
	if sent.Status != "sent" {
		reason := ""
		if sent.Reason != nil {
			reason = " (" + *sent.Reason + ")"
		}
		return fmt.Errorf("follow-up: %s is %s%s, not sent", what, sent.Status, reason)
	}
	return nil
}

func (w *walker) holdAndResume(ctx context.Context) error {
	p := w.out.Patient
	checkIns, err := w.d.CheckIns(ctx, p.ID)
	if err != nil {
		return err
	}
	if err := w.do(ctx, "followup", "nurse records the day-1 check-in: 37.2 °C, fatigue", func(ctx context.Context) error {
		return w.d.RecordCheckIn(ctx, checkIns[0].ID, 37.2, "fatigue")
	}); err != nil {
		return err
	}
	now, err := w.d.Clock.Now(ctx)
	if err != nil {
		return err
	}
	if err := w.do(ctx, "followup", "clinician records cytokine release syndrome, ASTCT grade 3", func(ctx context.Context) error {
		_, err := w.d.ReportAdverseEvent(ctx, NewAdverseEvent{PatientID: p.ID, CourseID: p.CourseID, Term: "Cytokine release syndrome",
			Scale: "ASTCT", Grade: 3, OnsetAt: now.Add(-time.Hour), Serious: true, ProductID: w.out.Cultures[0], AppointmentID: w.out.Infusions[0]})
		return err
	}); err != nil {
		return err
	}
	if _, err := w.d.WaitCourse(ctx, "scheduling holds the course", p.CourseID, func(c Course) bool { return c.Status == "on_hold" }); err != nil {
		return err
	}
	if err := w.do(ctx, "scheduling", "clinician reviews and resumes the course", func(ctx context.Context) error {
		return w.d.ResumeCourse(ctx, p.CourseID)
	}); err != nil {
		return err
	}
	_, err = w.d.WaitCourse(ctx, "scheduling takes the course off hold", p.CourseID, func(c Course) bool { return c.Status != "on_hold" })
	return err
}

// cultureFailed: the first culture fails QC; scheduling books the cycle
// again and billing credits it.
func (w *walker) cultureFailed(ctx context.Context) error {
	p := w.out.Patient
	din, err := w.drawAndCulture(ctx, 1)
	if err != nil {
		return err
	}
	if err := w.do(ctx, "scheduling", "lab fails "+din+": sterility positive", func(ctx context.Context) error {
		_, err := w.d.FailProduct(ctx, din, "sterility_positive")
		return err
	}); err != nil {
		return err
	}
	w.out.Failed = append(w.out.Failed, din)
	if _, err := w.d.WaitCreditNotes(ctx, "billing credits the failed cycle", p.CourseID, "product_failed:"); err != nil {
		return err
	}
	_, err = w.d.WaitCourse(ctx, "scheduling books the cycle again", p.CourseID, func(c Course) bool {
		a, ok := c.Appointment(1, "draw")
		return ok && a.Status == "booked"
	})
	return err
}

// cancelled: the patient cancels after the deposit; billing settles under
// the policy and the appointments are cancelled.
func (w *walker) cancelled(ctx context.Context) error {
	p := w.out.Patient
	if err := w.do(ctx, "intake", "front desk cancels the course at the patient's request", func(ctx context.Context) error {
		return w.d.CancelCourse(ctx, p.CourseID, "patient_request")
	}); err != nil {
		return err
	}
	return w.awaitCancellation(ctx)
}

// consentWithdrawn: after the first infusion the patient withdraws the
// treatment consent; scheduling cancels the course, billing settles it,
// and the safety check-ins go on.
func (w *walker) consentWithdrawn(ctx context.Context) error {
	p := w.out.Patient
	if err := w.cycle(ctx, 1); err != nil {
		return err
	}
	if err := w.do(ctx, "intake", "front desk records the patient's withdrawal of the treatment consent", func(ctx context.Context) error {
		return w.d.WithdrawTreatmentConsent(ctx, p.ID)
	}); err != nil {
		return err
	}
	return w.awaitCancellation(ctx)
}

// awaitCancellation waits for scheduling to cancel the course and billing
// to settle it.
func (w *walker) awaitCancellation(ctx context.Context) error {
	w.out.Ended = "cancelled"
	courseID := w.out.Patient.CourseID
	if _, err := w.d.WaitCourse(ctx, "scheduling cancels the course", courseID, func(c Course) bool { return c.Status == "cancelled" }); err != nil {
		return err
	}
	_, err := w.d.WaitCreditNotes(ctx, "billing settles the cancellation under the policy", courseID, "course_cancelled")
	return err
}

// ResumeCourse is a clinician resuming a held course (scheduling).
func (d *Driver) ResumeCourse(ctx context.Context, courseID string) error {
	return d.call(ctx, httpx.RoleClinician, http.MethodPost, d.Scheduling+"/v1/courses/"+url.PathEscape(courseID)+"/resume", nil, nil)
}

// RecordCheckIn is the nurse recording a check-in's answers (follow-up).
func (d *Driver) RecordCheckIn(ctx context.Context, id string, celsius float64, symptoms ...string) error {
	return d.call(ctx, httpx.RoleNurse, http.MethodPost, d.Followup+"/v1/check-ins/"+url.PathEscape(id),
		map[string]any{"temperature_celsius": celsius, "symptoms": append([]string{}, symptoms...)}, nil, "Idempotency-Key", d.key("check-in"))
}

// WithdrawTreatmentConsent is the front desk recording that the patient
// withdrew the treatment consent (intake).
func (d *Driver) WithdrawTreatmentConsent(ctx context.Context, patientID string) error {
	var list struct {
		Items []struct {
			ID          string  `json:"id"`
			Kind        string  `json:"kind"`
			WithdrawnAt *string `json:"withdrawn_at"`
		} `json:"items"`
	}
	if err := d.call(ctx, httpx.RoleFrontDesk, http.MethodGet, d.Intake+"/v1/patients/"+patientID+"/consents", nil, &list); err != nil {
		return err
	}
	for _, c := range list.Items {
		if c.Kind == "treatment" && c.WithdrawnAt == nil {
			return d.call(ctx, httpx.RoleFrontDesk, http.MethodPost, d.Intake+"/v1/patients/"+patientID+"/consents/"+c.ID+"/withdraw",
				map[string]any{"reason": "patient_decision"}, nil)
		}
	}
	return errors.New("the patient has no treatment consent in force")
}
