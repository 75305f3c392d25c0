package ports

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
)

// CheckInLinks serves the links patients answer their check-ins through.
//
// The routes are public: the token in the path is the credential, signed
// by the clinic for one check-in (checkin.Links), so it can answer that
// check-in once and read back nothing but its day and status. Nothing about
// the patient is shown or logged.
type CheckInLinks struct {
	// Links verifies tokens; nil when the clinic issues no links (every
	// token is then unknown).
	Links *checkin.Links
	Now   func() time.Time
	UoW   app.ClinicalUnitOfWork
	App   *app.Clinical
	Read  app.ClinicalReader
}

// TypeLinkExpired is the problem type of an expired link.
const TypeLinkExpired = httpx.ProblemTypeBase + "link-expired"

// Routes registers the public routes.
func (h CheckInLinks) Routes(rt *httpx.Router) {
	rt.Public("GET /v1/check-in-links/{token}", h.show)
	rt.Public("POST /v1/check-in-links/{token}", h.answer)
}

// linkedCheckInView is what the patient's page shows: the questionnaire's
// day, its state and the symptoms to choose from; no patient data.
type linkedCheckInView struct {
	CheckInID string    `json:"check_in_id"`
	Day       int       `json:"day"`
	DueDate   string    `json:"due_date"`
	Status    string    `json:"status"`
	Symptoms  []string  `json:"symptoms"`
	ExpiresAt time.Time `json:"expires_at"`
	// Advice, once answered: what the patient should do now.
	Advice string `json:"advice,omitempty"`
}

const (
	adviceEscalated = "Thank you. A clinician has been told and will contact you today. If you are short of breath, call the clinic now."
	adviceRecorded  = "Thank you. Your answers have reached the clinic."
)

func (h CheckInLinks) verify(r *http.Request) (uuid.UUID, time.Time, error) {
	if h.Links == nil {
		return uuid.Nil, time.Time{}, httpx.NotFound("no such check-in link")
	}
	id, expires, err := h.Links.VerifyUntil(r.PathValue("token"), h.Now())
	switch {
	case errors.Is(err, checkin.ErrLinkExpired):
		return uuid.Nil, time.Time{}, &httpx.Problem{Type: TypeLinkExpired, Title: "Link expired", Status: http.StatusGone,
			Detail: "this check-in link has expired; the clinic will contact you"}
	case err != nil:
		return uuid.Nil, time.Time{}, httpx.NotFound("no such check-in link")
	}
	return id, expires, nil
}

func toLinkedView(c checkin.CheckIn, expires time.Time) linkedCheckInView {
	v := linkedCheckInView{CheckInID: c.ID.String(), Day: c.Day, DueDate: c.DueDate.Format(time.DateOnly), Status: string(c.Status),
		ExpiresAt: expires.UTC()}
	for _, s := range checkin.Symptoms {
		v.Symptoms = append(v.Symptoms, string(s))
	}
	switch {
	case c.Status == checkin.Recorded && c.Escalated:
		v.Advice = adviceEscalated
	case c.Status == checkin.Recorded:
		v.Advice = adviceRecorded
	}
	return v
}

func (h CheckInLinks) show(w http.ResponseWriter, r *http.Request) error {
	id, expires, err := h.verify(r)
	if err != nil {
		return err
	}
	c, err := h.Read.CheckIn(r.Context(), id)
	if err != nil {
		return clinicalProblem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, toLinkedView(c, expires))
}

func (h CheckInLinks) answer(w http.ResponseWriter, r *http.Request) error {
	id, expires, err := h.verify(r)
	if err != nil {
		return err
	}
	var c checkin.CheckIn
	if err := recordAnswers(r, h.UoW, h.App, id, checkin.ByPatient, &c); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, toLinkedView(c, expires))
}
