package testharness

// CheckOpenAPI holds a service to its OpenAPI 3.1 document in one call. It is
// the contract test intake grew (issue 4), written once so that every service
// gets it: a journey drives the real service over HTTP through a client whose
// transport checks every request and every answer against the document with
// libopenapi-validator (JSON Schema 2020-12, format assertions, strict mode),
// and at the end the routes the Router registered, the routes the document
// declares and the routes the journey exercised must all agree.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	valerrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	lowv3 "github.com/pb33f/libopenapi/datamodel/low/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// RequestCheck says what the document must make of a request.
type RequestCheck int

// What the document must make of a request.
const (
	// RequestValid: the document accepts the request (the default).
	RequestValid RequestCheck = iota
	// RequestInvalid: the document rejects it too (the handler answers 4xx).
	RequestInvalid
	// RequestAny: not judged, e.g. a probe with a deliberately empty body.
	RequestAny
)

// Call is one request of a journey.
type Call struct {
	Role   httpx.Role // "" sends no token
	Auth   string     // a raw Authorization header instead of Role's token
	Method string
	Path   string   // with the query
	Body   any      // nil, a string or []byte sent as is, or a value sent as JSON
	Header []string // name, value pairs
	// Request is what the document must make of the request.
	Request RequestCheck
	// Status is the status the service must answer.
	Status int
}

// OpenAPIOption adjusts CheckOpenAPI.
type OpenAPIOption func(*openAPIConfig)

type openAPIConfig struct {
	strictIgnore []string
}

// OpenAPIStrictIgnore exempts JSON paths from strict mode (which refuses
// members the document does not declare), e.g. "$.body.answers.*" for a map
// keyed by data.
func OpenAPIStrictIgnore(paths ...string) OpenAPIOption {
	return func(c *openAPIConfig) { c.strictIgnore = append(c.strictIgnore, paths...) }
}

// OpenAPIContract is what a journey drives the service with. Its HTTP client
// (for generated clients) and Do both validate every exchange.
type OpenAPIContract struct {
	t      *testing.T
	svc    *Service
	model  *v3.Document
	v      validator.Validator
	schema schema_validation.SchemaValidator
	// HTTP sends requests to the service and checks each exchange against
	// the document: give it to a generated client. Requests must be valid.
	HTTP *http.Client

	mu       sync.Mutex
	seen     map[string]map[int]bool // "METHOD /template" -> statuses answered
	concrete map[string]string       // "METHOD /template" -> a request target that answered 2xx
}

// transportHeaders are sent by net/http itself and need no declaration.
var transportHeaders = map[string]bool{"Content-Type": true, "Content-Length": true, "Date": true}

var rolesLine = regexp.MustCompile("(?m)^Roles: ([^\n]*(?:\n[^\n]+)*)")

// CheckOpenAPI checks the service against doc, its OpenAPI 3.1 document:
//
//   - doc is valid OpenAPI 3.1; every operation has a unique operationId and
//     x-roles matching the "Roles:" line of its description; public
//     operations (security: []) have no roles; every 4xx/5xx answer is
//     application/problem+json only; an operation needing a token declares
//     401, and 403 exactly when some role is refused;
//   - the Router's registered routes are exactly the documented ones;
//   - journey runs; every exchange it makes through the contract (Do or the
//     HTTP client) is valid by the document: the request (or invalid, if the
//     call says so), the status, the Content-Type, the body, every declared
//     response header (required ones present) and no undeclared header; a
//     role outside the operation's x-roles gets 403 and one inside does not;
//   - afterwards every operation answered each of its 2xx statuses; each is
//     called by every role (on a target the journey used) and answers 403
//     exactly to the roles outside x-roles, and each documented path answers
//     405 with the documented methods in Allow to the others.
func CheckOpenAPI(t *testing.T, svc *Service, doc []byte, journey func(c *OpenAPIContract), opts ...OpenAPIOption) {
	t.Helper()
	var cfg openAPIConfig
	for _, o := range opts {
		o(&cfg)
	}
	c := newContract(t, svc, doc, cfg)
	c.checkDocument(t)
	c.checkPlatformRoutes(t, doc)
	journey(c)
	if t.Failed() {
		return // the coverage checks would only repeat the failure
	}
	c.checkCoverage(t)
}

func newContract(t *testing.T, svc *Service, doc []byte, cfg openAPIConfig) *OpenAPIContract {
	t.Helper()
	d, err := libopenapi.NewDocument(doc)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", d.GetVersion(), "an OpenAPI 3.1.0 document")
	m, err := d.BuildV3Model()
	require.NoError(t, err, "the document must build without errors")
	vopts := []config.Option{config.WithFormatAssertions(), config.WithStrictMode()}
	if len(cfg.strictIgnore) > 0 {
		vopts = append(vopts, config.WithStrictIgnorePaths(cfg.strictIgnore...))
	}
	v, errs := validator.NewValidator(d, vopts...)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "the document is not valid OpenAPI 3.1:\n%s", describeErrors(verrs))
	c := &OpenAPIContract{
		t: t, svc: svc, model: &m.Model, v: v,
		schema:   schema_validation.NewSchemaValidator(config.WithFormatAssertions()),
		seen:     map[string]map[int]bool{},
		concrete: map[string]string{},
	}
	c.HTTP = &http.Client{Timeout: svc.HTTP.Timeout, Transport: &contractTransport{c: c, next: http.DefaultTransport}}
	return c
}

func describeErrors(errs []*valerrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "- [%s/%s] %s: %s\n", e.ValidationType, e.ValidationSubType, e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "    %s at %s (%s)\n", se.Reason, se.FieldPath, se.KeywordLocation)
		}
	}
	return b.String()
}

// BaseURL is the service's address, for a generated client.
func (c *OpenAPIContract) BaseURL() string { return "http://" + c.svc.Runtime.Addr() }

// Token is role's bearer token, for a generated client's request editor.
func (c *OpenAPIContract) Token(role httpx.Role) string { return c.svc.Tokens[role] }

// Do sends call, checks the exchange against the document and the expected
// status, and returns the answer.
func (c *OpenAPIContract) Do(t *testing.T, call Call) Response {
	t.Helper()
	req := c.newRequest(t, call)
	ctx := context.WithValue(req.Context(), callKey{}, &callInfo{t: t, check: call.Request, role: call.Role, rawAuth: call.Auth != ""})
	resp, err := c.HTTP.Do(req.WithContext(ctx))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	res := Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	require.Equal(t, call.Status, res.Status, "%s %s as %q -> %d %s", call.Method, call.Path, call.Role, res.Status, body)
	return res
}

// Send makes a request without judging it (for probes).
func (c *OpenAPIContract) Send(t *testing.T, call Call) Response {
	t.Helper()
	resp, err := c.svc.HTTP.Do(c.newRequest(t, call))
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func (c *OpenAPIContract) newRequest(t *testing.T, call Call) *http.Request {
	t.Helper()
	var raw []byte
	switch b := call.Body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		enc, err := json.Marshal(b)
		require.NoError(t, err)
		raw = enc
	}
	var rd io.Reader
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(call.Method, c.BaseURL()+call.Path, rd)
	require.NoError(t, err)
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if call.Role != "" {
		req.Header.Set("Authorization", "Bearer "+c.svc.Tokens[call.Role])
	}
	if call.Auth != "" {
		req.Header.Set("Authorization", call.Auth)
	}
	for i := 0; i+1 < len(call.Header); i += 2 {
		req.Header.Set(call.Header[i], call.Header[i+1])
	}
	return req
}

type callKey struct{}

// callInfo is what Do knows about a call that the transport needs.
type callInfo struct {
	t       *testing.T
	check   RequestCheck
	role    httpx.Role
	rawAuth bool
}

// contractTransport checks every exchange against the document.
type contractTransport struct {
	c    *OpenAPIContract
	next http.RoundTripper
}

func (tr *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := tr.c
	info, _ := req.Context().Value(callKey{}).(*callInfo)
	if info == nil {
		// A generated client's call: valid by the document, role from the token.
		info = &callInfo{t: c.t, check: RequestValid, role: c.roleOf(req.Header.Get("Authorization"))}
	}
	t := info.t
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		_ = req.Body.Close()
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	clone := func() *http.Request {
		r := req.Clone(context.Background())
		if reqBody != nil {
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		return r
	}
	resp, err := tr.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	res := Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	what := fmt.Sprintf("%s %s as %q -> %d %s", req.Method, req.URL.RequestURI(), info.role, res.Status, body)

	okReq, reqErrs := c.v.ValidateHttpRequest(clone())
	switch info.check {
	case RequestValid:
		assert.True(t, okReq, "the document rejects a valid request: %s\n%s", what, describeErrors(reqErrs))
	case RequestInvalid:
		assert.False(t, okReq, "the document accepts a bad request: %s", what)
	case RequestAny:
	}

	vreq := clone()
	vresp := &http.Response{StatusCode: res.Status, Header: res.Header.Clone(), Request: vreq,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
	_, respErrs := c.v.ValidateHttpResponse(vreq, vresp)
	var bodyErrs []*valerrors.ValidationError
	for _, e := range respErrs {
		// The library decodes header values as JSON before validating them
		// (the ETag "1" becomes 1): headers are checked by checkHeaders.
		if e.ValidationType == helpers.ResponseBodyValidation &&
			(e.ValidationSubType == helpers.ParameterValidationHeader || e.ValidationSubType == lowv3.HeadersLabel) {
			continue
		}
		bodyErrs = append(bodyErrs, e)
	}
	assert.Empty(t, bodyErrs, "the answer does not match the document: %s\n%s", what, describeErrors(bodyErrs))

	if op, tmpl := c.operation(t, vreq); op != nil {
		c.checkHeaders(t, op, res, what)
		if info.role != "" && !info.rawAuth {
			c.checkRole(t, op, info.role, res, what)
		}
		key := req.Method + " " + tmpl
		c.mu.Lock()
		if c.seen[key] == nil {
			c.seen[key] = map[int]bool{}
		}
		c.seen[key][res.Status] = true
		if _, ok := c.concrete[key]; !ok && res.Status < 300 {
			c.concrete[key] = req.URL.RequestURI()
		}
		c.mu.Unlock()
	}
	return resp, nil
}

// roleOf finds the role whose token a request carries.
func (c *OpenAPIContract) roleOf(auth string) httpx.Role {
	for role, tok := range c.svc.Tokens {
		if auth == "Bearer "+tok {
			return role
		}
	}
	return ""
}

// operation finds the documented operation of a request.
func (c *OpenAPIContract) operation(t *testing.T, r *http.Request) (*v3.Operation, string) {
	t.Helper()
	item, errs, tmpl := paths.FindPath(r, c.model, nil)
	if !assert.NotNil(t, item, "%s %s is not documented: %s", r.Method, r.URL.Path, describeErrors(errs)) {
		return nil, ""
	}
	op := item.GetOperations().GetOrZero(strings.ToLower(r.Method))
	assert.NotNil(t, op, "%s %s is not documented", r.Method, tmpl)
	return op, tmpl
}

// checkHeaders checks the answer's headers against the declared ones.
func (c *OpenAPIContract) checkHeaders(t *testing.T, op *v3.Operation, res Response, what string) {
	t.Helper()
	if op.Responses == nil {
		return
	}
	decl := op.Responses.Codes.GetOrZero(strconv.Itoa(res.Status))
	if decl == nil {
		return // reported by the response validation
	}
	declared := map[string]bool{}
	if decl.Headers != nil {
		for name, h := range decl.Headers.FromOldest() {
			declared[http.CanonicalHeaderKey(name)] = true
			vals := res.Header.Values(name)
			if len(vals) == 0 {
				assert.False(t, h.Required, "required header %s is missing: %s", name, what)
				continue
			}
			assert.Len(t, vals, 1, "header %s is sent more than once: %s", name, what)
			if h.Schema == nil {
				continue
			}
			ok, errs := c.schema.ValidateSchemaObject(h.Schema.Schema(), vals[0])
			assert.True(t, ok, "header %s: %q does not match its schema: %s\n%s", name, vals[0], what, describeErrors(errs))
		}
	}
	for name := range res.Header {
		if !declared[name] && !transportHeaders[name] {
			t.Errorf("header %s is sent but not declared for %d: %s", name, res.Status, what)
		}
	}
}

// xRoles reads an operation's x-roles.
func xRoles(t *testing.T, op *v3.Operation) ([]string, bool) {
	t.Helper()
	if op.Extensions == nil {
		return nil, false
	}
	node, ok := op.Extensions.Get("x-roles")
	if !ok {
		return nil, false
	}
	var out []string
	require.NoError(t, node.Decode(&out), "x-roles of %s", op.OperationId)
	return out, true
}

// checkRole checks the answer against x-roles for a caller with a valid token.
func (c *OpenAPIContract) checkRole(t *testing.T, op *v3.Operation, role httpx.Role, res Response, what string) {
	t.Helper()
	allowed, ok := xRoles(t, op)
	if !assert.True(t, ok, "%s has no x-roles", op.OperationId) {
		return
	}
	if slices.Contains(allowed, string(role)) {
		assert.NotEqual(t, http.StatusForbidden, res.Status, "x-roles of %s allow %s: %s", op.OperationId, role, what)
		assert.NotEqual(t, http.StatusUnauthorized, res.Status, what)
	} else if len(allowed) > 0 {
		assert.Equal(t, http.StatusForbidden, res.Status, "x-roles of %s do not allow %s: %s", op.OperationId, role, what)
	}
}

// openAPIOperation is one documented method and path.
type openAPIOperation struct {
	Method, Path string
	Op           *v3.Operation
}

func (c *OpenAPIContract) operations() []openAPIOperation {
	var out []openAPIOperation
	for p, item := range c.model.Paths.PathItems.FromOldest() {
		for m, op := range item.GetOperations().FromOldest() {
			out = append(out, openAPIOperation{Method: strings.ToUpper(m), Path: p, Op: op})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// checkDocument makes the static checks and compares the routes.
func (c *OpenAPIContract) checkDocument(t *testing.T) {
	t.Helper()
	var documented []string
	ids := map[string]bool{}
	for _, o := range c.operations() {
		documented = append(documented, o.Method+" "+o.Path)
		assert.NotEmpty(t, o.Op.OperationId, "%s %s has no operationId", o.Method, o.Path)
		assert.False(t, ids[o.Op.OperationId], "operationId %s is not unique", o.Op.OperationId)
		ids[o.Op.OperationId] = true

		// x-roles and the description's "Roles:" line name the same roles.
		allowed, ok := xRoles(t, o.Op)
		require.True(t, ok, "%s %s has no x-roles", o.Method, o.Path)
		m := rolesLine.FindStringSubmatch(o.Op.Description)
		require.NotNil(t, m, "the description of %s %s has no Roles: line", o.Method, o.Path)
		public := len(o.Op.Security) == 0 && o.Op.Security != nil
		if public {
			assert.Empty(t, allowed, "%s %s is public", o.Method, o.Path)
			assert.Contains(t, m[1], "public")
		} else {
			assert.NotEmpty(t, allowed, "%s %s needs a token but allows no role", o.Method, o.Path)
			for _, r := range httpx.Roles() {
				assert.Equal(t, slices.Contains(allowed, string(r)), strings.Contains(m[1], "`"+string(r)+"`"),
					"%s %s: x-roles %v and the description (%s) disagree on %s", o.Method, o.Path, allowed, m[1], r)
			}
		}
		// Every 4xx/5xx answer is a problem document.
		for code, resp := range o.Op.Responses.Codes.FromOldest() {
			if code[0] != '4' && code[0] != '5' {
				continue
			}
			_, ok := resp.Content.Get(httpx.ContentTypeProblem)
			assert.True(t, ok, "%s %s answers %s without application/problem+json", o.Method, o.Path, code)
			assert.Equal(t, 1, resp.Content.Len(), "%s %s %s", o.Method, o.Path, code)
		}
		if !public {
			_, ok := o.Op.Responses.Codes.Get("401")
			assert.True(t, ok, "%s %s needs a token but declares no 401", o.Method, o.Path)
			_, ok = o.Op.Responses.Codes.Get("403")
			assert.Equal(t, len(allowed) < len(httpx.Roles()), ok, "%s %s: 403 is declared iff some role is refused", o.Method, o.Path)
		}
	}
	sort.Strings(documented)
	assert.Equal(t, c.svc.Runtime.Router.Routes(), documented, "the routes the Router registered and the document declares differ")
}

// checkCoverage runs after the journey: success statuses seen, every role
// probed on every operation, 405 on every undocumented method.
func (c *OpenAPIContract) checkCoverage(t *testing.T) {
	t.Helper()
	byPath := map[string][]string{}
	targets := map[string]string{}
	for _, o := range c.operations() {
		key := o.Method + " " + o.Path
		byPath[o.Path] = append(byPath[o.Path], o.Method)
		statuses := c.seen[key]
		for code := range o.Op.Responses.Codes.KeysFromOldest() {
			if code[0] == '2' {
				n, _ := strconv.Atoi(code)
				assert.True(t, statuses[n], "%s %s never answered %s in the journey", o.Method, o.Path, code)
			}
		}
		target, ok := c.concrete[key]
		if !ok {
			continue // reported above
		}
		if _, ok := targets[o.Path]; !ok {
			targets[o.Path] = target
		}
		allowed, _ := xRoles(t, o.Op)
		callers := httpx.Roles()
		if len(allowed) == 0 {
			callers = []httpx.Role{""}
		}
		var body any
		var header []string
		switch o.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			body = map[string]any{}
			header = []string{"If-Match", `"1"`}
		}
		for _, r := range callers {
			t.Run(fmt.Sprintf("route/%s %s/%s", o.Method, o.Path, r), func(t *testing.T) {
				call := Call{Role: r, Method: o.Method, Path: target, Body: body, Header: header, Request: RequestAny}
				res := c.Send(t, call)
				require.NotEqual(t, http.StatusMethodNotAllowed, res.Status, "%s %s is not served", o.Method, o.Path)
				if res.Status == http.StatusNotFound {
					require.NotContains(t, string(res.Body), "no such resource", "%s %s is not served", o.Method, o.Path)
				}
				call.Status = res.Status
				c.Do(t, call) // the same probe again, judged against the document and x-roles
			})
		}
	}
	for p, methods := range byPath {
		target, ok := targets[p]
		if !ok {
			continue
		}
		target, _, _ = strings.Cut(target, "?")
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if slices.Contains(methods, m) {
				continue
			}
			res := c.Send(t, Call{Role: httpx.RoleAdmin, Method: m, Path: target})
			require.Equal(t, http.StatusMethodNotAllowed, res.Status, "%s %s is served but not documented", m, p)
			var allow []string
			for a := range strings.SplitSeq(res.Header.Get("Allow"), ",") {
				if a = strings.TrimSpace(a); a != "" && a != http.MethodHead {
					allow = append(allow, a)
				}
			}
			require.ElementsMatch(t, methods, allow, "Allow of %s lists the documented methods", p)
		}
	}
}

// checkPlatformRoutes calls what the platform serves for every service:
// the document itself (the very bytes, as YAML), /healthz and /readyz.
func (c *OpenAPIContract) checkPlatformRoutes(t *testing.T, doc []byte) {
	t.Helper()
	got := c.Do(t, Call{Method: http.MethodGet, Path: "/openapi.yaml", Request: RequestValid, Status: http.StatusOK})
	require.Equal(t, doc, got.Body, "GET /openapi.yaml serves the service's document")
	require.Equal(t, "application/yaml", got.Header.Get("Content-Type"))
	c.Do(t, Call{Method: http.MethodGet, Path: "/healthz", Request: RequestValid, Status: http.StatusOK})
	c.Do(t, Call{Method: http.MethodGet, Path: "/readyz", Request: RequestValid, Status: http.StatusOK})
}
