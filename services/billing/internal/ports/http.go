package ports

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// Reader is billing's read side.
type Reader interface {
	// Summary is the account's balances, derived from its postings.
	Summary(ctx context.Context, patientID uuid.UUID) (ledger.Summary, error)
	// Invoices lists invoices, of a patient and/or a course, optionally of
	// one status, by number.
	Invoices(ctx context.Context, patientID, courseID uuid.UUID, status string) ([]*invoice.Invoice, error)
	// Invoice returns one invoice or app.ErrNoInvoice.
	Invoice(ctx context.Context, id uuid.UUID) (*invoice.Invoice, error)
	// LedgerCheck checks the whole ledger and its agreement with the
	// invoices, payments, refunds and credit notes.
	LedgerCheck(ctx context.Context) (app.LedgerReport, error)
	// CreditNotes lists the credit notes of a patient and/or a course.
	CreditNotes(ctx context.Context, patientID, courseID uuid.UUID) ([]app.CreditNote, error)
}

// HTTP serves billing's API.
type HTTP struct {
	Accounts    app.AccountReader
	Read        Reader
	UoW         app.UnitOfWork
	App         *app.Billing
	Idempotency *idempotency.Store
}

const maxBody = 64 << 10

// Routes registers the routes with the roles each allows.
func (h HTTP) Routes(rt *httpx.Router) {
	read := []httpx.Role{httpx.RoleBilling, httpx.RoleFrontDesk, httpx.RoleAdmin}
	rt.Handle("GET /v1/accounts/{patient_id}", h.getAccount, read...)
	rt.Handle("GET /v1/invoices", h.listInvoices, read...)
	rt.Handle("GET /v1/invoices/{id}", h.getInvoice, read...)
	rt.Handle("POST /v1/invoices/{id}/void", h.Idempotency.WrapTx(h.voidInvoice), httpx.RoleBilling, httpx.RoleAdmin)
	rt.Handle("POST /v1/payments", h.Idempotency.WrapTx(h.recordPayment), httpx.RoleBilling)
	rt.Handle("GET /v1/ledger/check", h.checkLedger, httpx.RoleAdmin)
	rt.Handle("POST /v1/refunds", h.Idempotency.WrapTx(h.requestRefund), httpx.RoleBilling)
	rt.Handle("POST /v1/refunds/{id}/approve", h.approveRefund, httpx.RoleAdmin)
	rt.Handle("POST /v1/credit-notes", h.Idempotency.WrapTx(h.issueCreditNote), httpx.RoleBilling, httpx.RoleAdmin)
	rt.Handle("GET /v1/credit-notes", h.listCreditNotes, read...)
}

type refundRequest struct {
	PatientID string `json:"patient_id"`
	// InvoiceID is absent for a refund of account credit.
	InvoiceID *string     `json:"invoice_id"`
	Amount    money.Money `json:"amount"`
	Reason    string      `json:"reason"`
}

type refundResponse struct {
	ID        string    `json:"id"`
	PatientID string    `json:"patient_id"`
	InvoiceID *string   `json:"invoice_id"`
	Number    *string   `json:"number"`
	Amount    moneyJSON `json:"amount"`
	Reason    string    `json:"reason"`
	Status    string    `json:"status"`
}

func refundView(r app.Refund) refundResponse {
	out := refundResponse{ID: r.ID.String(), PatientID: r.PatientID.String(), Amount: r.Amount, Reason: r.Reason, Status: r.Status}
	if r.InvoiceID != uuid.Nil {
		id, number := r.InvoiceID.String(), r.Number
		out.InvoiceID, out.Number = &id, &number
	}
	return out
}

func (h HTTP) requestRefund(w http.ResponseWriter, r *http.Request) error {
	var req refundRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	patient, err1 := uuid.Parse(req.PatientID)
	var inv uuid.UUID // none: a refund of account credit
	var err2 error
	if req.InvoiceID != nil {
		inv, err2 = uuid.Parse(*req.InvoiceID)
	}
	var fields []httpx.FieldError
	if err1 != nil {
		fields = append(fields, httpx.FieldError{Field: "patient_id", Message: "must be a UUID"})
	}
	if err2 != nil || (req.InvoiceID != nil && inv == uuid.Nil) {
		fields = append(fields, httpx.FieldError{Field: "invoice_id", Message: "must be a UUID, or absent for a refund of account credit"})
	}
	if len(fields) > 0 {
		return httpx.Unprocessable("the refund is not valid", fields...)
	}
	var out app.Refund
	answerKeyed(r, http.StatusCreated, func() any { return refundView(out) })
	if err := h.UoW.Do(r.Context(), func(repos app.Repositories) (err error) {
		out, err = h.App.RequestRefund(r.Context(), repos, app.RefundInput{PatientID: patient, InvoiceID: inv, Amount: req.Amount, Reason: req.Reason})
		return err
	}); err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusCreated, refundView(out))
}

func (h HTTP) approveRefund(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return httpx.BadRequest("the refund id is not a UUID", httpx.FieldError{Field: "id", Message: "must be a UUID"})
	}
	var out app.Refund
	if err := h.UoW.Do(r.Context(), func(repos app.Repositories) (err error) {
		out, err = h.App.ApproveRefund(r.Context(), repos, id, "admin")
		return err
	}); err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, refundView(out))
}

type violationResponse struct {
	Rule      string  `json:"rule"`
	PatientID string  `json:"patient_id"`
	PostingID *string `json:"posting_id"`
	Detail    string  `json:"detail"`
}

func (h HTTP) checkLedger(w http.ResponseWriter, r *http.Request) error {
	rep, err := h.Read.LedgerCheck(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		OK         bool                `json:"ok"`
		Postings   int                 `json:"postings"`
		Accounts   int                 `json:"accounts"`
		Violations []violationResponse `json:"violations"`
	}{OK: len(rep.Violations) == 0, Postings: rep.Postings, Accounts: rep.Accounts, Violations: []violationResponse{}}
	for _, v := range rep.Violations {
		vr := violationResponse{Rule: v.Rule, PatientID: v.PatientID.String(), Detail: v.Detail}
		if v.PostingID != uuid.Nil {
			id := v.PostingID.String()
			vr.PostingID = &id
		}
		out.Violations = append(out.Violations, vr)
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

type moneyJSON = money.Money

type balanceResponse struct {
	Owed          moneyJSON `json:"owed"`
	AccountCredit moneyJSON `json:"account_credit"`
	PaidIn        moneyJSON `json:"paid_in"`
	Refunded      moneyJSON `json:"refunded"`
	Revenue       moneyJSON `json:"revenue"`
	Deferred      moneyJSON `json:"deferred"`
}

type accountResponse struct {
	PatientID string          `json:"patient_id"`
	Currency  string          `json:"currency"`
	OpenedAt  time.Time       `json:"opened_at"`
	Balance   balanceResponse `json:"balance"`
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
	s, err := h.Read.Summary(r.Context(), id)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, accountResponse{PatientID: a.PatientID.String(), Currency: a.Currency, OpenedAt: a.OpenedAt,
		Balance: balanceResponse{Owed: s.Owed, AccountCredit: s.AccountCredit, PaidIn: s.PaidIn, Refunded: s.Refunded,
			Revenue: s.Revenue, Deferred: s.Deferred}})
}

type lineResponse struct {
	Code        string    `json:"code"`
	Description string    `json:"description"`
	Quantity    int64     `json:"quantity"`
	UnitPrice   moneyJSON `json:"unit_price"`
	TaxRateBP   int64     `json:"tax_rate_bp"`
	Amount      moneyJSON `json:"amount"`
	Tax         moneyJSON `json:"tax"`
}

type invoiceResponse struct {
	ID        string         `json:"id"`
	Number    *string        `json:"number"`
	Status    string         `json:"status"`
	Kind      string         `json:"kind"`
	PatientID string         `json:"patient_id"`
	CourseID  *string        `json:"course_id"`
	Cycle     int            `json:"cycle"`
	Lines     []lineResponse `json:"lines"`
	Total     moneyJSON      `json:"total"`
	Paid      moneyJSON      `json:"paid"`
	Credited  moneyJSON      `json:"credited"`
	Refunded  moneyJSON      `json:"refunded"`
	ToAccount moneyJSON      `json:"moved_to_account_credit"`
	AmountDue moneyJSON      `json:"amount_due"`
	IssueDate *string        `json:"issue_date"`
	DueDate   *string        `json:"due_date"`
	Version   int64          `json:"version"`
}

func invoiceView(inv *invoice.Invoice) invoiceResponse {
	s := inv.State()
	out := invoiceResponse{ID: s.ID.String(), Status: string(s.Status), Kind: string(s.Kind), PatientID: s.PatientID.String(),
		Cycle: s.Cycle, Lines: []lineResponse{}, Total: s.Total, Paid: s.Paid,
		Credited: s.Credited, Refunded: s.Refunded, ToAccount: s.MovedToAccountCredit, AmountDue: inv.AmountDue(), Version: s.Version}
	if s.Number != "" {
		out.Number = &s.Number
	}
	if s.CourseID != uuid.Nil {
		c := s.CourseID.String()
		out.CourseID = &c
	}
	if !s.IssuedAt.IsZero() {
		d := s.IssuedAt.Format(time.DateOnly)
		out.IssueDate = &d
	}
	if !s.DueDate.IsZero() {
		d := s.DueDate.Format(time.DateOnly)
		out.DueDate = &d
	}
	for _, l := range s.Lines {
		out.Lines = append(out.Lines, lineResponse{Code: l.Code, Description: l.Description, Quantity: l.Quantity,
			UnitPrice: l.UnitPrice, TaxRateBP: l.TaxRate, Amount: l.Amount, Tax: l.Tax})
	}
	return out
}

var invoiceStatuses = map[string]bool{"draft": true, "issued": true, "partially_paid": true, "paid": true, "overdue": true, "void": true}

func (h HTTP) listInvoices(w http.ResponseWriter, r *http.Request) error {
	patient, course, fields, err := patientOrCourse(r, "status")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !invoiceStatuses[status] {
		fields = append(fields, httpx.FieldError{Field: "status", Message: "is not an invoice status"})
	}
	if len(fields) > 0 {
		return httpx.BadRequest("the query is not valid", fields...)
	}
	list, err := h.Read.Invoices(r.Context(), patient, course, status)
	if err != nil {
		return err
	}
	items := make([]invoiceResponse, len(list))
	for i, inv := range list {
		items[i] = invoiceView(inv)
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// patientOrCourse reads the patient_id and course_id of a list's query
// (one of them required; extra names allowed besides), with the fields
// that are wrong.
func patientOrCourse(r *http.Request, extra ...string) (patient, course uuid.UUID, fields []httpx.FieldError, err error) {
	if err := httpx.CheckQueryNames(r.URL.Query(), append([]string{"patient_id", "course_id"}, extra...)...); err != nil {
		return uuid.Nil, uuid.Nil, nil, err
	}
	q := r.URL.Query()
	for name, into := range map[string]*uuid.UUID{"patient_id": &patient, "course_id": &course} {
		if v := q.Get(name); v != "" {
			id, err := uuid.Parse(v)
			if err != nil {
				fields = append(fields, httpx.FieldError{Field: name, Message: "must be a UUID"})
			}
			*into = id
		}
	}
	if patient == uuid.Nil && course == uuid.Nil && len(fields) == 0 {
		fields = append(fields, httpx.FieldError{Field: "patient_id", Message: "patient_id or course_id is required"})
	}
	return patient, course, fields, nil
}

func (h HTTP) getInvoice(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return httpx.BadRequest("the invoice id is not a UUID", httpx.FieldError{Field: "id", Message: "must be a UUID"})
	}
	inv, err := h.Read.Invoice(r.Context(), id)
	if errors.Is(err, app.ErrNoInvoice) {
		return httpx.NotFound("no such invoice")
	}
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, invoiceView(inv))
}

type allocationRequest struct {
	InvoiceID string      `json:"invoice_id"`
	Amount    money.Money `json:"amount"`
}

type paymentRequest struct {
	PatientID         string              `json:"patient_id"`
	Amount            money.Money         `json:"amount"`
	Method            string              `json:"method"`
	ExternalReference string              `json:"external_reference"`
	ReceivedAt        string              `json:"received_at"`
	Allocations       []allocationRequest `json:"allocations"`
}

type allocationResponse struct {
	InvoiceID string    `json:"invoice_id"`
	Number    string    `json:"number"`
	Amount    moneyJSON `json:"amount"`
}

type paymentResponse struct {
	ID                string               `json:"id"`
	PatientID         string               `json:"patient_id"`
	Amount            moneyJSON            `json:"amount"`
	Method            string               `json:"method"`
	ExternalReference string               `json:"external_reference"`
	ReceivedAt        string               `json:"received_at"`
	Allocations       []allocationResponse `json:"allocations"`
	ToAccountCredit   moneyJSON            `json:"to_account_credit"`
}

func (h HTTP) recordPayment(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get(idempotency.Header) == "" {
		return httpx.BadRequest("a payment needs an Idempotency-Key",
			httpx.FieldError{Field: "Idempotency-Key", Message: "is required on every payment"})
	}
	var req paymentRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	in, err := req.toInput()
	if err != nil {
		return err
	}
	var p app.Payment
	answerKeyed(r, http.StatusCreated, func() any { return paymentView(p) })
	if err := h.UoW.Do(r.Context(), func(repos app.Repositories) error {
		var err error
		p, err = h.App.RecordPayment(r.Context(), repos, in)
		return err
	}); err != nil {
		return problem(err)
	}
	return httpx.WriteJSON(w, http.StatusCreated, paymentView(p))
}

func paymentView(p app.Payment) paymentResponse {
	out := paymentResponse{ID: p.ID.String(), PatientID: p.PatientID.String(), Amount: p.Amount, Method: p.Method,
		ExternalReference: p.ExternalReference, ReceivedAt: p.ReceivedAt.UTC().Format(time.RFC3339),
		Allocations: []allocationResponse{}, ToAccountCredit: p.ToAccountCredit}
	for _, a := range p.Allocations {
		out.Allocations = append(out.Allocations, allocationResponse{InvoiceID: a.InvoiceID.String(), Number: a.Number, Amount: a.Amount})
	}
	return out
}

func (req paymentRequest) toInput() (app.PaymentInput, error) {
	var fields []httpx.FieldError
	patient, err := uuid.Parse(req.PatientID)
	if err != nil {
		fields = append(fields, httpx.FieldError{Field: "patient_id", Message: "must be a UUID"})
	}
	received, err := time.Parse(time.RFC3339, req.ReceivedAt)
	if err != nil {
		fields = append(fields, httpx.FieldError{Field: "received_at", Message: "must be an RFC 3339 time"})
	}
	in := app.PaymentInput{PatientID: patient, Amount: req.Amount, Method: req.Method, ExternalReference: req.ExternalReference,
		ReceivedAt: received.UTC()}
	for i, a := range req.Allocations {
		id, err := uuid.Parse(a.InvoiceID)
		if err != nil {
			fields = append(fields, httpx.FieldError{Field: "allocations[" + strconv.Itoa(i) + "].invoice_id", Message: "must be a UUID"})
		}
		in.Allocations = append(in.Allocations, app.AllocationInput{InvoiceID: id, Amount: a.Amount})
	}
	if len(fields) > 0 {
		return in, httpx.Unprocessable("the payment is not valid", fields...)
	}
	return in, nil
}

// answerKeyed registers how a keyed request (idempotency.WrapTx) is
// answered once the use case succeeded: view renders the result the
// handler's closure holds by then. Store.Do stores the answer in the use
// case's own transaction.
func answerKeyed(r *http.Request, status int, view func() any) {
	idempotency.RenderWith(r.Context(), func(struct{}) (idempotency.Answer, error) {
		return idempotency.JSON(status, view())
	})
}

// problem maps err with problems; an error they do not know stays itself
// (a 500).
func problem(err error) error {
	if p := problems.Problem(err); p != nil {
		return p
	}
	return err
}

// conflictOn is a 409 that names the field at fault, so that a client
// can tell a reused external reference from a key still being answered
// (both 409s) without reading the detail.
func conflictOn(detail string, field httpx.FieldError) *httpx.Problem {
	p := httpx.Conflict(detail)
	p.Errors = []httpx.FieldError{field}
	return p
}

// Refused reports whether err is one of billing's refusals, which the API
// answers with a 4xx problem (a rule the request breaks), rather than a
// failure (a 500). Tests hold the use cases to it: a refusal must leave
// everything as it was.
func Refused(err error) bool { return problems.Problem(err) != nil }

// problems maps billing's errors to problems; anything else is a 500.
var problems = httpx.NewErrorMap().
	Is(app.ErrDuplicatePayment, conflictOn("a payment with this external reference is recorded already",
		httpx.FieldError{Field: "external_reference", Message: "is recorded already"})).
	Is(account.ErrNotFound, httpx.Unprocessable("no account for this patient",
		httpx.FieldError{Field: "patient_id", Message: "has no account with billing"})).
	Is(app.ErrNoInvoice, httpx.Unprocessable("no such invoice",
		httpx.FieldError{Field: "invoice_id", Message: "name an invoice of this patient (in allocations too)"})).
	Is(app.ErrInvalidPayment, httpx.Unprocessable("the payment is not valid",
		httpx.FieldError{Field: "allocations", Message: "name invoices of this patient; external_reference is 1 to 100 characters"})).
	Is(app.ErrWrongCurrency, httpx.Unprocessable("the amount is not in the account's currency",
		httpx.FieldError{Field: "amount.currency", Message: "must be the account's currency"})).
	Is(app.ErrMethod, httpx.Unprocessable("unknown payment method",
		httpx.FieldError{Field: "method", Message: "is cash, card, transfer or insurance"})).
	Is(money.ErrZeroAmount, httpx.Unprocessable("a payment of nothing", httpx.FieldError{Field: "amount.value", Message: "must be positive"})).
	Is(money.ErrNegativeAmount, httpx.Unprocessable("a negative payment", httpx.FieldError{Field: "amount.value", Message: "must be positive"})).
	Is(money.ErrAbsurdAmount, httpx.Unprocessable("an absurd amount", httpx.FieldError{Field: "amount.value", Message: "is above the largest amount billing takes"})).
	Is(money.ErrUnknownCurrency, httpx.Unprocessable("unknown currency", httpx.FieldError{Field: "amount.currency", Message: "is not an ISO 4217 currency billing knows"})).
	Is(invoice.ErrState, httpx.Conflict("the invoice does not take this in its status")).
	Is(app.ErrNoRefund, httpx.NotFound("no such refund")).
	Is(app.ErrRefundNotPending, httpx.Conflict("the refund is not waiting for approval")).
	Is(app.ErrInvalidRefund, httpx.Unprocessable("the refund is not valid",
		httpx.FieldError{Field: "reason", Message: "1 to 200 characters, not billing's own (course_cancelled, product_failed:…); the amount positive; the invoice the patient's"})).
	Is(invoice.ErrDuplicateRefund, httpx.Conflict("already refunded (or credited) for this reason")).
	Is(invoice.ErrAboveRefundable, httpx.Conflict("above what was paid and not yet refunded")).
	Is(app.ErrAboveAccountCredit, httpx.Conflict("above the account credit the patient holds")).
	Is(app.ErrRefundEarned, httpx.Conflict("the money was earned (kept under the policy or recognised); give it back with a credit note")).
	Is(app.ErrInvalidCreditNote, httpx.Unprocessable("the credit note is not valid",
		httpx.FieldError{Field: "reason", Message: "1 to 200 characters, not billing's own (course_cancelled, product_failed:…); the invoice the patient's"})).
	Is(app.ErrNeedsApproval, httpx.Forbidden("a credit note refunding more than the approval limit is issued by an admin")).
	Is(invoice.ErrCreditNoteParts, httpx.Unprocessable("the credit note's parts do not add up to its total",
		httpx.FieldError{Field: "total", Message: "reduce_owed + refund + to_account_credit, each non-negative, the total positive"})).
	Is(invoice.ErrAboveDue, httpx.Conflict("takes off more than the invoice still owes")).
	Is(money.ErrCurrencyMismatch, httpx.Unprocessable("the amounts are not all in the invoice's currency",
		httpx.FieldError{Field: "currency", Message: "must be the invoice's currency"})).
	Is(app.ErrInvalidVoid, httpx.Unprocessable("the void is not valid", httpx.FieldError{Field: "reason", Message: "1 to 200 characters"})).
	Is(invoice.ErrNotRefunded, httpx.Conflict("the invoice holds paid money: refund it or move it to account credit (a credit note) first")).
	Is(invoice.ErrInvalid, httpx.Unprocessable("the amount does not fit the invoice"))
