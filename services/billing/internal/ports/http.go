package ports

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
)

// HTTP serves billing's API.
type HTTP struct {
	Accounts app.AccountReader
}

// Routes registers the routes with the roles each allows.
func (h HTTP) Routes(rt *httpx.Router) {
	rt.Handle("GET /v1/accounts/{patient_id}", h.getAccount, httpx.RoleBilling, httpx.RoleFrontDesk, httpx.RoleAdmin)
}

type accountResponse struct {
	PatientID string    `json:"patient_id"`
	Currency  string    `json:"currency"`
	OpenedAt  time.Time `json:"opened_at"`
}

func (h HTTP) getAccount(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("patient_id"))
	if err != nil {
		return httpx.BadRequest("the patient id is not a UUID", httpx.FieldError{Field: "patient_id", Message: "must be a UUID"})
	}
	a, err := h.Accounts.Get(r.Context(), id)
	if errors.Is(err, account.ErrNotFound) {
		return httpx.NotFound("no account for this patient")
	}
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, accountResponse{PatientID: a.PatientID.String(), Currency: a.Currency, OpenedAt: a.OpenedAt})
}
