package ports

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

type creditNoteRequest struct {
	PatientID string       `json:"patient_id"`
	InvoiceID string       `json:"invoice_id"`
	Total     *money.Money `json:"total"`
	// The parts; an absent part is zero in the total's currency.
	ReduceOwed      *money.Money `json:"reduce_owed"`
	Refund          *money.Money `json:"refund"`
	ToAccountCredit *money.Money `json:"to_account_credit"`
	Reason          string       `json:"reason"`
}

type creditNoteResponse struct {
	ID              string    `json:"id"`
	Number          string    `json:"number"`
	PatientID       string    `json:"patient_id"`
	InvoiceID       string    `json:"invoice_id"`
	InvoiceNumber   string    `json:"invoice_number"`
	CourseID        *string   `json:"course_id"`
	Total           moneyJSON `json:"total"`
	ReduceOwed      moneyJSON `json:"reduce_owed"`
	Refund          moneyJSON `json:"refund"`
	ToAccountCredit moneyJSON `json:"to_account_credit"`
	// FromRevenue is the part that had been earned (the rest was deferred).
	FromRevenue moneyJSON `json:"from_revenue"`
	Reason      string    `json:"reason"`
	CreatedAt   string    `json:"created_at"`
}

func creditNoteView(n app.CreditNote) creditNoteResponse {
	out := creditNoteResponse{ID: n.ID.String(), Number: n.Number, PatientID: n.PatientID.String(), InvoiceID: n.InvoiceID.String(),
		InvoiceNumber: n.InvoiceNumber, Total: n.Total, ReduceOwed: n.ReduceOwed, Refund: n.Refund, ToAccountCredit: n.ToAccountCredit,
		FromRevenue: n.FromRevenue, Reason: n.Reason, CreatedAt: n.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	if n.CourseID != uuid.Nil {
		c := n.CourseID.String()
		out.CourseID = &c
	}
	return out
}

// issueCreditNote issues a credit note the billing desk (or an admin)
// asks for.
func (h HTTP) issueCreditNote(w http.ResponseWriter, r *http.Request) error {
	var req creditNoteRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	patient, err1 := uuid.Parse(req.PatientID)
	inv, err2 := uuid.Parse(req.InvoiceID)
	var fields []httpx.FieldError
	if err1 != nil {
		fields = append(fields, httpx.FieldError{Field: "patient_id", Message: "must be a UUID"})
	}
	if err2 != nil {
		fields = append(fields, httpx.FieldError{Field: "invoice_id", Message: "must be a UUID"})
	}
	if req.Total == nil {
		fields = append(fields, httpx.FieldError{Field: "total", Message: "is required"})
	}
	if len(fields) > 0 {
		return httpx.Unprocessable("the credit note is not valid", fields...)
	}
	part := func(m *money.Money) money.Money {
		if m == nil {
			return money.Zero(req.Total.Currency())
		}
		return *m
	}
	p, _ := httpx.PrincipalFrom(r.Context())
	in := app.CreditNoteInput{PatientID: patient, InvoiceID: inv, Total: *req.Total, ReduceOwed: part(req.ReduceOwed),
		Refund: part(req.Refund), ToAccountCredit: part(req.ToAccountCredit), Reason: req.Reason, ByAdmin: p.Role == httpx.RoleAdmin}
	var out app.CreditNote
	answerKeyed(r, http.StatusCreated, func() any { return creditNoteView(out) })
	if err := h.UoW.Do(r.Context(), func(repos app.Repositories) (err error) {
		out, err = h.App.IssueCreditNote(r.Context(), repos, in)
		return err
	}); err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusCreated, creditNoteView(out))
}

// listCreditNotes lists the credit notes of a patient and/or a course.
func (h HTTP) listCreditNotes(w http.ResponseWriter, r *http.Request) error {
	patient, course, fields, err := patientOrCourse(r)
	if err != nil {
		return err
	}
	if len(fields) > 0 {
		return httpx.BadRequest("the query is not valid", fields...)
	}
	list, err := h.Read.CreditNotes(r.Context(), patient, course)
	if err != nil {
		return err
	}
	items := make([]creditNoteResponse, len(list))
	for i, n := range list {
		items[i] = creditNoteView(n)
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

type voidRequest struct {
	Reason string `json:"reason"`
}

type voidResponse struct {
	ID           string    `json:"id"`
	Number       string    `json:"number"`
	Status       string    `json:"status"`
	AmountVoided moneyJSON `json:"amount_voided"`
	Reason       string    `json:"reason"`
}

// voidInvoice voids an invoice that holds no paid money; it keeps its
// number.
func (h HTTP) voidInvoice(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return httpx.BadRequest("the invoice id is not a UUID", httpx.FieldError{Field: "id", Message: "must be a UUID"})
	}
	var req voidRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	var out voidResponse
	view := func(inv *invoice.Invoice) voidResponse {
		return voidResponse{ID: inv.ID().String(), Number: inv.Number(), Status: string(inv.Status()), AmountVoided: inv.AmountVoided(),
			Reason: strings.TrimSpace(req.Reason)}
	}
	answerKeyed(r, http.StatusOK, func() any { return out })
	if err := h.UoW.Do(r.Context(), func(repos app.Repositories) error {
		inv, err := h.App.VoidInvoice(r.Context(), repos, id, req.Reason)
		if err != nil {
			return err
		}
		out = view(inv)
		return nil
	}); err != nil {
		if errors.Is(err, app.ErrNoInvoice) {
			return httpx.NotFound("no such invoice")
		}
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}
