package ports

import (
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

// ReferenceHTTP serves the clinic's price lists and cancellation policies:
// admin edits them, front desk and billing read them. A price list is
// addressed by its natural key, program, protocol version and the day it
// starts: the key the table already has, that never changes (a list's
// start is never edited), and that names what a person means ("the NK
// prices from 1 December"), as scheduling addresses protocols.
type ReferenceHTTP struct {
	Store       app.ReferenceAdmin
	Lists       app.PriceLists
	Idempotency *idempotency.Store
}

// Routes registers the routes with the roles each allows.
func (h ReferenceHTTP) Routes(rt *httpx.Router) {
	read := []httpx.Role{httpx.RoleBilling, httpx.RoleFrontDesk, httpx.RoleAdmin}
	const list = "/v1/price-lists/{program}/{protocol_version}/{valid_from}"
	rt.Handle("GET /v1/price-lists", h.listPriceLists, read...)
	// The key rides in the edit's transaction (ReferenceAdmin.EditPriceLists).
	rt.Handle("POST /v1/price-lists", h.Idempotency.WrapTx(h.addPriceList), httpx.RoleAdmin)
	rt.Handle("GET "+list, h.getPriceList, read...)
	rt.Handle("POST "+list+"/close", h.closePriceList, httpx.RoleAdmin)
	rt.Handle("GET /v1/cancellation-policies", h.listPolicies, read...)
	rt.Handle("GET /v1/cancellation-policies/{program}", h.getPolicy, read...)
	rt.Handle("PUT /v1/cancellation-policies/{program}", h.putPolicy, httpx.RoleAdmin)
}

// keyPattern is what a program or protocol version may be: path-safe, so
// that every list's key is an address.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type instalmentJSON struct {
	Phase  string      `json:"phase"`
	Amount money.Money `json:"amount"`
	Count  int         `json:"count"`
}

type priceListRequest struct {
	Program         string           `json:"program"`
	ProtocolVersion string           `json:"protocol_version"`
	ValidFrom       string           `json:"valid_from"`
	ValidTo         *string          `json:"valid_to"`
	Currency        string           `json:"currency"`
	CoursePrice     *money.Money     `json:"course_price"`
	Deposit         *money.Money     `json:"deposit"`
	Instalments     []instalmentJSON `json:"instalments"`
	LabFee          *money.Money     `json:"lab_fee"`
	PerInfusion     *money.Money     `json:"per_infusion"`
	TaxRateBP       int64            `json:"tax_rate_bp"`
	// Supersedes is the start of the list of the same program and version
	// this one replaces: closed the day before this one starts.
	Supersedes *string `json:"supersedes"`
}

type priceListResponse struct {
	Program         string           `json:"program"`
	ProtocolVersion string           `json:"protocol_version"`
	ValidFrom       string           `json:"valid_from"`
	ValidTo         *string          `json:"valid_to"`
	Currency        string           `json:"currency"`
	CoursePrice     money.Money      `json:"course_price"`
	Deposit         money.Money      `json:"deposit"`
	Instalments     []instalmentJSON `json:"instalments"`
	LabFee          money.Money      `json:"lab_fee"`
	PerInfusion     money.Money      `json:"per_infusion"`
	TaxRateBP       int64            `json:"tax_rate_bp"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

func priceListView(s app.StoredPriceList) priceListResponse {
	pl := s.PriceList
	out := priceListResponse{Program: pl.Program, ProtocolVersion: pl.ProtocolVersion, ValidFrom: pl.ValidFrom.Format(time.DateOnly),
		Currency: pl.Currency.String(), CoursePrice: pl.CoursePrice, Deposit: pl.Deposit, Instalments: []instalmentJSON{},
		LabFee: pl.LabFee, PerInfusion: pl.PerInfusion, TaxRateBP: pl.TaxRate, UpdatedAt: s.UpdatedAt}
	if !pl.ValidTo.IsZero() {
		to := pl.ValidTo.Format(time.DateOnly)
		out.ValidTo = &to
	}
	for _, phase := range slices.Sorted(maps.Keys(pl.Instalments)) {
		in := pl.Instalments[phase]
		out.Instalments = append(out.Instalments, instalmentJSON{Phase: phase, Amount: in.Amount, Count: in.Count})
	}
	return out
}

// parseDate reads a date field into l's errors.
func parseDate(l *validation.List, field, s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		l.Add(field, "must be a date (YYYY-MM-DD)")
	}
	return d
}

// toDomain is the list asked for and the start of the list it supersedes
// (zero when none). Field errors come as a *validation.Error; the list's
// own rules (policy.PriceList.Validate) as policy.ErrInvalid.
func (req priceListRequest) toDomain() (policy.PriceList, time.Time, error) {
	var l validation.List
	if !keyPattern.MatchString(req.Program) {
		l.Add("program", "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if !keyPattern.MatchString(req.ProtocolVersion) {
		l.Add("protocol_version", "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	pl := policy.PriceList{Program: req.Program, ProtocolVersion: req.ProtocolVersion, TaxRate: req.TaxRateBP}
	pl.ValidFrom = parseDate(&l, "valid_from", req.ValidFrom)
	if req.ValidTo != nil {
		pl.ValidTo = parseDate(&l, "valid_to", *req.ValidTo)
	}
	var supersedes time.Time
	if req.Supersedes != nil {
		supersedes = parseDate(&l, "supersedes", *req.Supersedes)
	}
	cur, err := money.ParseCurrency(req.Currency)
	if err != nil {
		l.Add("currency", "must be an ISO 4217 currency billing knows")
	}
	pl.Currency = cur
	for field, m := range map[string]struct {
		in  *money.Money
		out *money.Money
	}{"course_price": {req.CoursePrice, &pl.CoursePrice}, "deposit": {req.Deposit, &pl.Deposit},
		"lab_fee": {req.LabFee, &pl.LabFee}, "per_infusion": {req.PerInfusion, &pl.PerInfusion}} {
		if m.in == nil {
			l.Add(field, "is required")
			continue
		}
		*m.out = *m.in
	}
	if len(req.Instalments) > 0 {
		pl.Instalments = map[string]policy.Instalment{}
		for i, in := range req.Instalments {
			field := "instalments[" + strconv.Itoa(i) + "].phase"
			if phase, msg := validation.Text(in.Phase, true, 64, false); msg != "" {
				l.Add(field, msg)
			} else if _, twice := pl.Instalments[phase]; twice {
				l.Add(field, "names a phase given before: each phase once")
			} else {
				pl.Instalments[phase] = policy.Instalment{Amount: in.Amount, Count: in.Count}
			}
		}
	}
	if err := l.Err(); err != nil {
		return pl, supersedes, err
	}
	return pl, supersedes, pl.Validate()
}

type closeRequest struct {
	ValidTo string `json:"valid_to"`
}

type stageRuleJSON struct {
	ForfeitLabFee bool    `json:"forfeit_lab_fee"`
	KeepInfusions bool    `json:"keep_infusions"`
	RefundShareBP *int64  `json:"refund_share_bp"`
	RestTo        *string `json:"rest_to"`
}

type policyRequest struct {
	Program                    string         `json:"program"`
	BeforeCulture              *stageRuleJSON `json:"before_culture"`
	CultureStarted             *stageRuleJSON `json:"culture_started"`
	InfusionsGiven             *stageRuleJSON `json:"infusions_given"`
	KeepLabFeeOnProductFailure *bool          `json:"keep_lab_fee_on_product_failure"`
}

type policyResponse struct {
	Program                    string        `json:"program"`
	BeforeCulture              stageRuleJSON `json:"before_culture"`
	CultureStarted             stageRuleJSON `json:"culture_started"`
	InfusionsGiven             stageRuleJSON `json:"infusions_given"`
	KeepLabFeeOnProductFailure bool          `json:"keep_lab_fee_on_product_failure"`
	UpdatedAt                  time.Time     `json:"updated_at"`
}

func stageRuleView(r policy.StageRule) stageRuleJSON {
	out := stageRuleJSON{ForfeitLabFee: r.ForfeitLabFee, KeepInfusions: r.KeepInfusions, RefundShareBP: &r.RefundShare}
	if r.RestTo != "" {
		to := string(r.RestTo)
		out.RestTo = &to
	}
	return out
}

func policyView(s app.StoredPolicy) policyResponse {
	p := s.CancellationPolicy
	return policyResponse{Program: p.Program, BeforeCulture: stageRuleView(p.BeforeCulture), CultureStarted: stageRuleView(p.CultureStarted),
		InfusionsGiven: stageRuleView(p.InfusionsGiven), KeepLabFeeOnProductFailure: p.KeepLabFeeOnProductFailure, UpdatedAt: s.UpdatedAt}
}

// toDomain is the policy of program (the path's) asked for: every stage
// and the product-failure rule stated, nothing left to a default.
func (req policyRequest) toDomain(program string) (policy.CancellationPolicy, error) {
	var l validation.List
	if !keyPattern.MatchString(program) {
		l.Add("program", "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if req.Program != "" && req.Program != program {
		l.Add("program", "must be the program in the path (or left out)")
	}
	p := policy.CancellationPolicy{Program: program}
	for field, s := range map[string]struct {
		in  *stageRuleJSON
		out *policy.StageRule
	}{"before_culture": {req.BeforeCulture, &p.BeforeCulture}, "culture_started": {req.CultureStarted, &p.CultureStarted},
		"infusions_given": {req.InfusionsGiven, &p.InfusionsGiven}} {
		switch {
		case s.in == nil:
			l.Add(field, "is required")
		case s.in.RefundShareBP == nil:
			l.Add(field+".refund_share_bp", "is required")
		default:
			*s.out = policy.StageRule{ForfeitLabFee: s.in.ForfeitLabFee, KeepInfusions: s.in.KeepInfusions, RefundShare: *s.in.RefundShareBP}
			if s.in.RestTo != nil {
				s.out.RestTo = policy.Destination(*s.in.RestTo)
			}
		}
	}
	if req.KeepLabFeeOnProductFailure == nil {
		l.Add("keep_lab_fee_on_product_failure", "is required")
	} else {
		p.KeepLabFeeOnProductFailure = *req.KeepLabFeeOnProductFailure
	}
	if err := l.Err(); err != nil {
		return p, err
	}
	return p, p.Validate()
}

func (h ReferenceHTTP) listPriceLists(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := httpx.CheckQueryNames(q, "program", "protocol_version", "valid_on"); err != nil {
		return err
	}
	var on time.Time
	if v := q.Get("valid_on"); v != "" {
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return httpx.BadRequest("the query is not valid", httpx.FieldError{Field: "valid_on", Message: "must be a date (YYYY-MM-DD)"})
		}
		on = d
	}
	lists, err := h.Store.PriceLists(r.Context(), q.Get("program"), q.Get("protocol_version"))
	if err != nil {
		return err
	}
	items := []priceListResponse{}
	for _, s := range lists {
		if on.IsZero() || s.ValidOn(on) {
			items = append(items, priceListView(s))
		}
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// pathKey is the list's key from the path; a start that is not a date is
// a 400.
func pathKey(r *http.Request) (program, version string, from time.Time, err error) {
	from, perr := time.Parse(time.DateOnly, r.PathValue("valid_from"))
	if perr != nil {
		return "", "", from, httpx.BadRequest("the list's start is not a date",
			httpx.FieldError{Field: "valid_from", Message: "must be a date (YYYY-MM-DD)"})
	}
	return r.PathValue("program"), r.PathValue("protocol_version"), from, nil
}

func (h ReferenceHTTP) getPriceList(w http.ResponseWriter, r *http.Request) error {
	program, version, from, err := pathKey(r)
	if err != nil {
		return err
	}
	s, err := h.Store.PriceList(r.Context(), program, version, from)
	if err != nil {
		return referenceProblem(err, "")
	}
	return httpx.WriteJSON(w, http.StatusOK, priceListView(s))
}

func (h ReferenceHTTP) addPriceList(w http.ResponseWriter, r *http.Request) error {
	var req priceListRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	pl, supersedes, err := req.toDomain()
	if err != nil {
		return referenceProblem(err, "valid_from")
	}
	// With an Idempotency-Key, the answer is rendered and stored in the
	// edit's own transaction (idempotency.WrapTx), from the lists as stored
	// there: the same list Add returns.
	idempotency.RenderWith(r.Context(), func(after []app.StoredPriceList) (idempotency.Answer, error) {
		s, err := app.AddedList(after, pl)
		if err != nil {
			return idempotency.Answer{}, err
		}
		return idempotency.JSON(http.StatusCreated, priceListView(s))
	})
	s, err := h.Lists.Add(r.Context(), pl, supersedes)
	if err != nil {
		return referenceProblem(err, "valid_from")
	}
	return httpx.WriteJSON(w, http.StatusCreated, priceListView(s))
}

func (h ReferenceHTTP) closePriceList(w http.ResponseWriter, r *http.Request) error {
	program, version, from, err := pathKey(r)
	if err != nil {
		return err
	}
	var req closeRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	var l validation.List
	to := parseDate(&l, "valid_to", req.ValidTo)
	if err := l.Err(); err != nil {
		return referenceProblem(err, "valid_to")
	}
	ctx := r.Context()
	if _, err := h.Lists.Close(ctx, program, version, from, to); err != nil {
		return referenceProblem(err, "valid_to")
	}
	s, err := h.Store.PriceList(ctx, program, version, from)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, priceListView(s))
}

func (h ReferenceHTTP) listPolicies(w http.ResponseWriter, r *http.Request) error {
	if err := httpx.CheckQueryNames(r.URL.Query()); err != nil {
		return err
	}
	ps, err := h.Store.Policies(r.Context())
	if err != nil {
		return err
	}
	items := make([]policyResponse, len(ps))
	for i, p := range ps {
		items[i] = policyView(p)
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (h ReferenceHTTP) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := h.Store.Policy(r.Context(), r.PathValue("program"))
	if err != nil {
		return referenceProblem(err, "")
	}
	return httpx.WriteJSON(w, http.StatusOK, policyView(p))
}

func (h ReferenceHTTP) putPolicy(w http.ResponseWriter, r *http.Request) error {
	program := r.PathValue("program")
	var req policyRequest
	if err := httpx.DecodeJSON(r, &req, maxBody); err != nil {
		return err
	}
	p, err := req.toDomain(program)
	if err != nil {
		return referenceProblem(err, "")
	}
	ctx := r.Context()
	created, err := h.Store.PutPolicy(ctx, p, h.Lists.Calendar.Now())
	if err != nil {
		return referenceProblem(err, "")
	}
	s, err := h.Store.Policy(ctx, program)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return httpx.WriteJSON(w, status, policyView(s))
}

// referenceProblems maps the reference API's errors; referenceProblem adds
// what depends on the request.
var referenceProblems = func() *httpx.ErrorMap {
	m := httpx.NewErrorMap()
	httpx.As(m, func(e *policy.OverlapError) *httpx.Problem {
		o := e.Other
		other := map[string]any{"program": o.Program, "protocol_version": o.ProtocolVersion,
			"valid_from": o.ValidFrom.Format(time.DateOnly), "valid_to": nil}
		if !o.ValidTo.IsZero() {
			other["valid_to"] = o.ValidTo.Format(time.DateOnly)
		}
		return httpx.Conflict(e.Error()+"; name it in supersedes to close it the day before, or close it first").
			WithExtension("conflicts_with", other)
	})
	m.Is(policy.ErrOverlap, httpx.Conflict("a price list of this program and version starts on that day"))
	m.Is(policy.ErrExtends, httpx.Conflict("the price list ends sooner already: closing only shortens a list; a longer validity is a new list"))
	m.Is(app.ErrUnknownPriceList, httpx.NotFound("no such price list"))
	m.Is(app.ErrUnknownPolicy, httpx.NotFound("no cancellation policy for this program"))
	m.Is(app.ErrUnknownProgram, httpx.Unprocessable("billing has no price list of this program",
		httpx.FieldError{Field: "program", Message: "must have a price list first"}))
	m.Is(app.ErrNothingToSupersede, httpx.Unprocessable("no list of this program and version starts on that day",
		httpx.FieldError{Field: "supersedes", Message: "must be the start of a list of this program and version"}))
	m.Is(policy.ErrInvalid, httpx.Unprocessable("the price list or policy is not valid"))
	return m
}()

// referenceProblem maps err; a change reaching into the days up to today
// names dateField. A rule the list or policy breaks is told in the detail
// (reference data, no personal data).
func referenceProblem(err error, dateField string) error {
	if errors.Is(err, policy.ErrPast) {
		return httpx.Unprocessable(err.Error()+": a price change starts tomorrow at the earliest",
			httpx.FieldError{Field: dateField, Message: "must not change which list applied on a day up to today"})
	}
	p := referenceProblems.Problem(err)
	if p == nil {
		return err
	}
	if errors.Is(err, policy.ErrInvalid) {
		p.Detail = err.Error()
	}
	return p
}
