package service_test

// The OpenAPI document (api/openapi.yaml, served at GET /openapi.yaml) and
// the handlers must agree. These tests drive intake through real HTTP and
// check every request and every answer against the document with
// libopenapi-validator (OpenAPI 3.1, JSON Schema 2020-12):
//
//   - a request the test means to be valid must be valid by the document,
//     and one it means to be bad must be rejected by it too;
//   - every answer's status must be declared for the operation, its
//     Content-Type declared and its body valid against the schema;
//   - every declared response header is checked here (the library decodes
//     header values as JSON before validating them, which turns the quoted
//     ETag "1" into 1), required ones must be present, and no header may be
//     sent that the document does not declare (bar Content-Type,
//     Content-Length and Date);
//   - an authenticated role outside the operation's x-roles must get a 403,
//     one inside must not;
//   - the routes registered in the code are exactly the documented ones, and
//     each documented path answers 405 with the documented methods in Allow
//     to any other method.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
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
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/intake/api"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/service"
)

// reqCheck says what the document must make of a request.
type reqCheck int

const (
	reqValid   reqCheck = iota // the document accepts it
	reqInvalid                 // the document rejects it (and the handler answers 4xx)
	reqAny                     // not judged: probes with deliberately empty bodies
)

// apiCall is one request of the journey.
type apiCall struct {
	role   httpx.Role // "" sends no token
	auth   string     // a raw Authorization header instead of role's token
	method string
	path   string // with the query
	body   any    // nil, a string or []byte sent as is, or a value sent as JSON
	header []string
	req    reqCheck
	status int
}

type apiResult struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r apiResult) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), string(r.Body))
	return m
}

// contract validates exchanges against the document.
type contract struct {
	model   *v3.Document
	v       validator.Validator
	schemas schema_validation.SchemaValidator
	s       *testharness.Service // nil for the static checks

	mu   sync.Mutex
	seen map[string]map[int]bool // "METHOD /template" -> statuses answered
}

func loadContract(t *testing.T) *contract {
	t.Helper()
	doc, err := libopenapi.NewDocument(api.OpenAPI)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.GetVersion())
	m, err := doc.BuildV3Model()
	require.NoError(t, err, "the document must build without errors")
	// Strict mode also rejects query parameters, headers and properties the
	// document does not declare; answers are a map by question id.
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithStrictMode(),
		config.WithStrictIgnorePaths("$.body.answers.*", "$.body.items[*].answers.*"))
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "the document is not valid OpenAPI 3.1:\n%s", describe(verrs))
	return &contract{
		model:   &m.Model,
		v:       v,
		schemas: schema_validation.NewSchemaValidator(config.WithFormatAssertions()),
		seen:    map[string]map[int]bool{},
	}
}

func describe(errs []*valerrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "- [%s/%s] %s: %s\n", e.ValidationType, e.ValidationSubType, e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "    %s at %s (%s)\n", se.Reason, se.FieldPath, se.KeywordLocation)
		}
	}
	return b.String()
}

func encodeBody(t *testing.T, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	default:
		enc, err := json.Marshal(b)
		require.NoError(t, err)
		return enc
	}
}

// do sends c, checks the exchange against the document and the expected
// status, and returns the answer.
func (k *contract) do(t *testing.T, c apiCall) apiResult {
	t.Helper()
	raw := encodeBody(t, c.body)
	hdr := http.Header{}
	if raw != nil {
		hdr.Set("Content-Type", "application/json")
	}
	if c.role != "" {
		hdr.Set("Authorization", "Bearer "+k.s.Tokens[c.role])
	}
	if c.auth != "" {
		hdr.Set("Authorization", c.auth)
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		hdr.Set(c.header[i], c.header[i+1])
	}
	newReq := func() *http.Request {
		var rd io.Reader
		if raw != nil {
			rd = bytes.NewReader(raw)
		}
		r, err := http.NewRequest(c.method, "http://"+k.s.Runtime.Addr()+c.path, rd)
		require.NoError(t, err)
		r.Header = hdr.Clone()
		return r
	}
	resp, err := k.s.HTTP.Do(newReq())
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	res := apiResult{Status: resp.StatusCode, Header: resp.Header, Body: body}
	what := fmt.Sprintf("%s %s as %q -> %d %s", c.method, c.path, c.role, res.Status, body)

	okReq, reqErrs := k.v.ValidateHttpRequest(newReq())
	switch c.req {
	case reqValid:
		assert.True(t, okReq, "the document rejects a valid request: %s\n%s", what, describe(reqErrs))
	case reqInvalid:
		assert.False(t, okReq, "the document accepts a bad request: %s", what)
	}

	vreq := newReq()
	vresp := &http.Response{StatusCode: res.Status, Header: res.Header.Clone(), Request: vreq,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
	_, respErrs := k.v.ValidateHttpResponse(vreq, vresp)
	var bodyErrs []*valerrors.ValidationError
	for _, e := range respErrs {
		// Response headers are checked by checkHeaders below.
		if e.ValidationType == helpers.ResponseBodyValidation &&
			(e.ValidationSubType == helpers.ParameterValidationHeader || e.ValidationSubType == lowv3.HeadersLabel) {
			continue
		}
		bodyErrs = append(bodyErrs, e)
	}
	assert.Empty(t, bodyErrs, "the answer does not match the document: %s\n%s", what, describe(bodyErrs))

	op, tmpl := k.operation(t, vreq)
	if op != nil {
		k.checkHeaders(t, op, res, what)
		k.checkRole(t, op, c, res, what)
		k.mu.Lock()
		key := c.method + " " + tmpl
		if k.seen[key] == nil {
			k.seen[key] = map[int]bool{}
		}
		k.seen[key][res.Status] = true
		k.mu.Unlock()
	}
	require.Equal(t, c.status, res.Status, what)
	return res
}

// operation finds the documented operation of a request.
func (k *contract) operation(t *testing.T, r *http.Request) (*v3.Operation, string) {
	t.Helper()
	item, errs, tmpl := paths.FindPath(r, k.model, nil)
	if !assert.NotNil(t, item, "%s %s is not documented: %s", r.Method, r.URL.Path, describe(errs)) {
		return nil, ""
	}
	op := item.GetOperations().GetOrZero(strings.ToLower(r.Method))
	assert.NotNil(t, op, "%s %s is not documented", r.Method, tmpl)
	return op, tmpl
}

// transportHeaders are sent by net/http itself and need no declaration.
var transportHeaders = map[string]bool{"Content-Type": true, "Content-Length": true, "Date": true}

// checkHeaders checks the answer's headers against the declared ones.
func (k *contract) checkHeaders(t *testing.T, op *v3.Operation, res apiResult, what string) {
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
			ok, errs := k.schemas.ValidateSchemaObject(h.Schema.Schema(), vals[0])
			assert.True(t, ok, "header %s: %q does not match its schema: %s\n%s", name, vals[0], what, describe(errs))
		}
	}
	for name := range res.Header {
		if !declared[name] && !transportHeaders[name] {
			t.Errorf("header %s is sent but not declared for %d: %s", name, res.Status, what)
		}
	}
}

// roles reads an operation's x-roles.
func roles(t *testing.T, op *v3.Operation) ([]string, bool) {
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
func (k *contract) checkRole(t *testing.T, op *v3.Operation, c apiCall, res apiResult, what string) {
	t.Helper()
	if c.role == "" || c.auth != "" {
		return
	}
	allowed, ok := roles(t, op)
	if !assert.True(t, ok, "%s has no x-roles", op.OperationId) {
		return
	}
	if slices.Contains(allowed, string(c.role)) {
		assert.NotEqual(t, http.StatusForbidden, res.Status, "x-roles of %s allow %s: %s", op.OperationId, c.role, what)
		assert.NotEqual(t, http.StatusUnauthorized, res.Status, what)
	} else {
		assert.Equal(t, http.StatusForbidden, res.Status, "x-roles of %s do not allow %s: %s", op.OperationId, c.role, what)
	}
}

// docOperation is one documented method and path.
type docOperation struct {
	Method, Path string
	Op           *v3.Operation
}

func (k *contract) operations() []docOperation {
	var out []docOperation
	for p, item := range k.model.Paths.PathItems.FromOldest() {
		for m, op := range item.GetOperations().FromOldest() {
			out = append(out, docOperation{Method: strings.ToUpper(m), Path: p, Op: op})
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

// registeredRoutes reads the patterns intake registers from the code: every
// X.Handle("METHOD /path", ...) and X.Public("METHOD /path", ...) call with a
// literal pattern in the ports and service packages, and the platform's
// health probes.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../internal/ports/*.go")
	require.NoError(t, err)
	more, err := filepath.Glob("*.go")
	require.NoError(t, err)
	files = append(files, more...)
	files = append(files, "../../../pkg/httpx/health.go")
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		file, err := parser.ParseFile(fset, f, src, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "Public") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			if method, path, ok := strings.Cut(s, " "); ok && strings.HasPrefix(path, "/") && method == strings.ToUpper(method) {
				out = append(out, s)
			}
			return true
		})
	}
	sort.Strings(out)
	return out
}

var rolesLine = regexp.MustCompile("(?m)^Roles: ([^\n]*(?:\n[^\n]+)*)")

func TestOpenAPIDocumentDescribesEveryRouteAndRole(t *testing.T) {
	t.Parallel()
	k := loadContract(t)

	var documented []string
	ids := map[string]bool{}
	for _, o := range k.operations() {
		documented = append(documented, o.Method+" "+o.Path)
		assert.NotEmpty(t, o.Op.OperationId, "%s %s has no operationId", o.Method, o.Path)
		assert.False(t, ids[o.Op.OperationId], "operationId %s is not unique", o.Op.OperationId)
		ids[o.Op.OperationId] = true

		// x-roles and the description's "Roles:" line name the same roles.
		allowed, ok := roles(t, o.Op)
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
	assert.Equal(t, registeredRoutes(t), documented, "the routes in the code and in the document differ")
}

// sampleID is a PRC resident id with a valid check digit for birth date bd
// (YYYYMMDD).
func sampleID(t *testing.T, region, bd, seq string) string {
	t.Helper()
	first := region + bd + seq
	c, ok := patient.CNResidentCheckChar(first)
	require.True(t, ok)
	return first + string(c)
}

func TestOpenAPIDocumentAgreesWithTheHandlers(t *testing.T) {
	t.Parallel()
	k := loadContract(t)
	s := testharness.StartService(t, service.Service)
	require.NoError(t, service.Service.Seed(t.Context(), s.Runtime))
	k.s = s
	const (
		fd    = httpx.RoleFrontDesk
		clin  = httpx.RoleClinician
		bill  = httpx.RoleBilling
		nurse = httpx.RoleNurse
		admin = httpx.RoleAdmin
	)
	post, get, patch := http.MethodPost, http.MethodGet, http.MethodPatch

	// ---- the document itself and the probes ----
	doc := k.do(t, apiCall{method: get, path: "/openapi.yaml", req: reqValid, status: 200})
	require.Equal(t, api.OpenAPI, doc.Body, "GET /openapi.yaml serves the embedded document")
	require.Equal(t, "application/yaml", doc.Header.Get("Content-Type"))
	served, err := libopenapi.NewDocument(doc.Body)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", served.GetVersion())
	k.do(t, apiCall{method: get, path: "/healthz", req: reqValid, status: 200})
	k.do(t, apiCall{method: get, path: "/readyz", req: reqValid, status: 200})

	// ---- programs ----
	progs := k.do(t, apiCall{role: nurse, method: get, path: "/v1/programs", req: reqValid, status: 200}).JSON(t)
	var nk map[string]any
	var codes []string
	for _, p := range progs["items"].([]any) {
		p := p.(map[string]any)
		codes = append(codes, p["code"].(string))
		if p["code"] == "nk-autologous" {
			nk = p
		}
	}
	require.Subset(t, codes, []string{"nk-autologous", "nk-allogeneic", "msc", "hsct-autologous"})
	require.NotNil(t, nk)
	eligible, disqualified := map[string]bool{}, map[string]bool{}
	for _, q := range nk["screening"].(map[string]any)["questions"].([]any) {
		q := q.(map[string]any)
		id, dq := q["id"].(string), q["disqualifying_answer"].(bool)
		eligible[id], disqualified[id] = !dq, dq
	}
	k.do(t, apiCall{method: get, path: "/v1/programs", req: reqInvalid, status: 401})
	k.do(t, apiCall{auth: "Bearer cop_not-a-token", method: get, path: "/v1/programs", req: reqValid, status: 401})

	// ---- register ----
	nid := sampleID(t, "110101", "19900228", "123")
	nana := map[string]any{
		"family_name": "欧阳", "given_name": "娜娜", "birth_date": "1990-02-28", "sex": "female",
		"phone": "+8613700000001", "email": "nana@example.cn", "preferred_language": "zh-CN",
		"national_id":       map[string]any{"type": "cn_resident", "value": nid},
		"address":           map[string]any{"line1": "朝阳区建国路 88 号", "city": "北京", "postal_code": "100022", "country": "CN"},
		"emergency_contact": map[string]any{"name": "欧阳明", "relationship": "父亲", "phone": "+8613700000009"},
	}
	created := k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", body: nana,
		header: []string{"Idempotency-Key", "register-nana"}, req: reqValid, status: 201})
	a := created.JSON(t)
	aID := a["id"].(string)
	require.Equal(t, `"1"`, created.Header.Get("ETag"))
	require.Equal(t, "/v1/patients/"+aID, created.Header.Get("Location"))

	replay := k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", body: nana,
		header: []string{"Idempotency-Key", "register-nana"}, req: reqValid, status: 201})
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(created.Body), string(replay.Body))
	other := map[string]any{"family_name": "欧阳", "given_name": "静", "birth_date": "1992-05-01", "sex": "female"}
	k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", body: other,
		header: []string{"Idempotency-Key", "register-nana"}, req: reqValid, status: 422})
	k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", body: other,
		header: []string{"Idempotency-Key", strings.Repeat("k", 256)}, req: reqInvalid, status: 400})

	dup := map[string]any{"family_name": "欧阳", "given_name": "娜", "birth_date": "1990-02-28", "sex": "female",
		"national_id": map[string]any{"type": "cn_resident", "value": nid}}
	conflict := k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", body: dup, req: reqValid, status: 409}).JSON(t)
	require.Equal(t, aID, conflict["existing_patient_id"])
	require.Equal(t, "national_id", conflict["duplicate_rule"])

	var bID string
	for i, given := range []string{"静", "晓明"} {
		p := map[string]any{"family_name": "欧阳", "given_name": given, "birth_date": "1985-07-1" + strconv.Itoa(i),
			"sex": "male", "phone": "+861370000002" + strconv.Itoa(i)}
		r := k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", body: p, req: reqValid, status: 201}).JSON(t)
		bID = r["id"].(string)
	}
	k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", req: reqValid, status: 201,
		body: map[string]any{"family_name": "王", "given_name": "小明", "birth_date": "2001-01-01", "sex": "unknown",
			"national_id": map[string]any{"type": "hk_id", "value": "a123456(7)"}}})

	// ---- bad registrations ----
	with := func(key string, v any) map[string]any {
		p := map[string]any{"family_name": "李", "given_name": "雷", "birth_date": "1970-01-01", "sex": "male"}
		if v == nil {
			delete(p, key)
		} else {
			p[key] = v
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		role   httpx.Role
		body   any
		header []string
		status int
	}{
		{"bad JSON", fd, "{nope", nil, 400},
		{"empty body", fd, "", nil, 400},
		{"bare null", fd, "null", nil, 400},
		{"unknown field", fd, with("blood_type", "A"), nil, 400},
		{"wrong type", fd, with("family_name", 7), nil, 400},
		{"missing family name", fd, with("family_name", nil), nil, 422},
		{"bad sex", fd, with("sex", "f"), nil, 422},
		{"bad date", fd, with("birth_date", "1970-02-30"), nil, 422},
		{"bad phone", fd, with("phone", "0137"), nil, 422},
		{"bad email", fd, with("email", "lei@"), nil, 422},
		{"bad language", fd, with("preferred_language", "zh_CN"), nil, 422},
		{"bad national id type", fd, with("national_id", map[string]any{"type": "ssn", "value": "1"}), nil, 422},
		{"address without country", fd, with("address", map[string]any{"line1": "x"}), nil, 422},
		{"emergency contact without phone", fd, with("emergency_contact", map[string]any{"name": "x"}), nil, 422},
		{"text/plain", fd, with("x", nil), []string{"Content-Type", "text/plain"}, 415},
		{"oversized", fd, with("given_name", strings.Repeat("长", 40000)), nil, 413},
	} {
		t.Run("register/"+tc.name, func(t *testing.T) {
			k.do(t, apiCall{role: tc.role, method: post, path: "/v1/patients", body: tc.body, header: tc.header, req: reqInvalid, status: tc.status})
		})
	}
	// Rules the document cannot state: it accepts these and the handler refuses them.
	k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", body: with("birth_date", "2999-01-01"), req: reqValid, status: 422})
	k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", body: with("national_id",
		map[string]any{"type": "cn_resident", "value": "110101197001011230"}), req: reqValid, status: 422}) // check digit
	k.do(t, apiCall{role: fd, method: post, path: "/v1/patients", body: with("national_id",
		map[string]any{"type": "cn_resident", "value": sampleID(t, "110101", "19800101", "001")}), req: reqValid, status: 422})
	k.do(t, apiCall{role: nurse, method: post, path: "/v1/patients", body: with("x", nil), req: reqValid, status: 403})
	k.do(t, apiCall{role: bill, method: post, path: "/v1/patients", body: with("x", nil), req: reqValid, status: 403})
	k.do(t, apiCall{method: post, path: "/v1/patients", body: with("x", nil), req: reqInvalid, status: 401})

	// ---- get and patch ----
	got := k.do(t, apiCall{role: bill, method: get, path: "/v1/patients/" + aID, req: reqValid, status: 200})
	require.Equal(t, `"1"`, got.Header.Get("ETag"))
	require.JSONEq(t, string(created.Body), string(got.Body))
	k.do(t, apiCall{role: clin, method: get, path: "/v1/patients/" + aID, req: reqValid, status: 200})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients/not-a-uuid", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients/" + uuid.NewString(), req: reqValid, status: 404})
	k.do(t, apiCall{role: nurse, method: get, path: "/v1/patients/" + aID, req: reqValid, status: 403})

	aPath := "/v1/patients/" + aID
	patched := k.do(t, apiCall{role: fd, method: patch, path: aPath, header: []string{"If-Match", `"1"`},
		body: map[string]any{"email": nil, "preferred_language": "en", "address": map[string]any{"line1": "1 Queen's Road", "country": "hk"}},
		req:  reqValid, status: 200})
	require.Equal(t, `"2"`, patched.Header.Get("ETag"))
	pj := patched.JSON(t)
	require.NotContains(t, pj, "email")
	require.Equal(t, "HK", pj["address"].(map[string]any)["country"])
	k.do(t, apiCall{role: fd, method: patch, path: aPath, header: []string{"If-Match", `W/"2"`},
		body: map[string]any{"phone": "", "emergency_contact": nil}, req: reqValid, status: 200})
	k.do(t, apiCall{role: fd, method: patch, path: aPath, header: []string{"If-Match", `"1"`},
		body: map[string]any{"given_name": "娜"}, req: reqValid, status: 412})
	k.do(t, apiCall{role: fd, method: patch, path: aPath, header: []string{"If-Match", "yesterday"},
		body: map[string]any{"given_name": "娜"}, req: reqInvalid, status: 412})
	k.do(t, apiCall{role: fd, method: patch, path: aPath, body: map[string]any{"given_name": "娜"}, req: reqInvalid, status: 428})
	k.do(t, apiCall{role: fd, method: patch, path: aPath, header: []string{"If-Match", `"3"`},
		body: map[string]any{"sex": "f"}, req: reqInvalid, status: 422})
	k.do(t, apiCall{role: fd, method: patch, path: aPath, header: []string{"If-Match", `"3"`},
		body: map[string]any{"nickname": "娜娜"}, req: reqInvalid, status: 400})
	k.do(t, apiCall{role: fd, method: patch, path: aPath, header: []string{"If-Match", `"3"`, "Content-Type", "text/plain"},
		body: map[string]any{"given_name": "娜"}, req: reqInvalid, status: 415})
	k.do(t, apiCall{role: fd, method: patch, path: "/v1/patients/" + uuid.NewString(), header: []string{"If-Match", `"1"`},
		body: map[string]any{"given_name": "娜"}, req: reqValid, status: 404})
	k.do(t, apiCall{role: clin, method: patch, path: aPath, header: []string{"If-Match", `"3"`},
		body: map[string]any{"given_name": "娜"}, req: reqValid, status: 403})

	// ---- search with a cursor ----
	q := "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=2"
	page1 := k.do(t, apiCall{role: fd, method: get, path: q, req: reqValid, status: 200}).JSON(t)
	require.Len(t, page1["items"], 2)
	cursor, ok := page1["next_cursor"].(string)
	require.True(t, ok, "a full page has a next_cursor: %v", page1)
	page2 := k.do(t, apiCall{role: bill, method: get, path: q + "&cursor=" + url.QueryEscape(cursor), req: reqValid, status: 200}).JSON(t)
	require.Len(t, page2["items"], 1)
	require.Nil(t, page2["next_cursor"])
	byPhone := k.do(t, apiCall{role: clin, method: get, path: "/v1/patients?phone=" + url.QueryEscape("+8613700000020"), req: reqValid, status: 200}).JSON(t)
	require.Len(t, byPhone["items"], 1)
	byID := k.do(t, apiCall{role: fd, method: get, path: "/v1/patients?national_id=" + nid, req: reqValid, status: 200}).JSON(t)
	require.Len(t, byID["items"], 1)
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=100", req: reqValid, status: 200})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=0", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=101", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=ten", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients?phone=0137", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients?name=x", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients", req: reqValid, status: 400}) // needs q, phone or national_id
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients?q=x&cursor=forged", req: reqValid, status: 400})
	k.do(t, apiCall{role: nurse, method: get, path: "/v1/patients?q=x", req: reqValid, status: 403})

	// ---- consents ----
	signedAt := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	treatment := map[string]any{"kind": "treatment", "program": "nk-autologous", "form_version": "NK-2026.1",
		"signed_at": signedAt, "signed_by": "patient", "protocol_id": "NK-AUTO-2026.1"}
	cons := k.do(t, apiCall{role: fd, method: post, path: aPath + "/consents", body: treatment,
		header: []string{"Idempotency-Key", "consent-1"}, req: reqValid, status: 201})
	require.Equal(t, "active", cons.JSON(t)["status"])
	sms := k.do(t, apiCall{role: fd, method: post, path: aPath + "/consents", req: reqValid, status: 201,
		body: map[string]any{"kind": "contact_sms", "form_version": "SMS-1", "signed_at": signedAt, "signed_by": "guardian"}}).JSON(t)
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/consents", req: reqValid, status: 201,
		body: map[string]any{"kind": "research", "form_version": "R-1", "signed_at": signedAt, "signed_by": "patient", "trial_id": "NCT01234567"}})
	smsID := sms["id"].(string)
	withdrawn := k.do(t, apiCall{role: fd, method: post, path: aPath + "/consents/" + smsID + "/withdraw",
		body: map[string]any{"reason": "asked to stop SMS"}, req: reqValid, status: 200}).JSON(t)
	require.Equal(t, "withdrawn", withdrawn["status"])
	require.Equal(t, "asked to stop SMS", withdrawn["withdrawal_reason"])
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/consents/" + smsID + "/withdraw",
		body: map[string]any{"reason": "again"}, req: reqValid, status: 409})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/consents/" + uuid.NewString() + "/withdraw",
		body: map[string]any{"reason": "x"}, req: reqValid, status: 404})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/consents/" + smsID + "/withdraw",
		body: map[string]any{}, req: reqInvalid, status: 409})
	k.do(t, apiCall{role: clin, method: post, path: aPath + "/consents/" + smsID + "/withdraw",
		body: map[string]any{"reason": "x"}, req: reqValid, status: 403})
	list := k.do(t, apiCall{role: clin, method: get, path: aPath + "/consents", req: reqValid, status: 200}).JSON(t)
	require.Len(t, list["items"], 3)
	k.do(t, apiCall{role: bill, method: get, path: aPath + "/consents", req: reqValid, status: 403})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/patients/" + uuid.NewString() + "/consents", req: reqValid, status: 404})
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"treatment without program", map[string]any{"kind": "treatment", "form_version": "1", "signed_at": signedAt, "signed_by": "patient", "protocol_id": "P"}},
		{"treatment without protocol or trial", map[string]any{"kind": "treatment", "program": "msc", "form_version": "1", "signed_at": signedAt, "signed_by": "patient"}},
		{"research without trial", map[string]any{"kind": "research", "form_version": "1", "signed_at": signedAt, "signed_by": "patient"}},
		{"sms with a program", map[string]any{"kind": "contact_sms", "program": "msc", "form_version": "1", "signed_at": signedAt, "signed_by": "patient"}},
		{"bad kind", map[string]any{"kind": "marketing", "form_version": "1", "signed_at": signedAt, "signed_by": "patient"}},
		{"bad signer", map[string]any{"kind": "contact_email", "form_version": "1", "signed_at": signedAt, "signed_by": "doctor"}},
		{"bad signed_at", map[string]any{"kind": "contact_email", "form_version": "1", "signed_at": "yesterday", "signed_by": "patient"}},
		{"missing form version", map[string]any{"kind": "contact_email", "signed_at": signedAt, "signed_by": "patient"}},
	} {
		t.Run("consent/"+tc.name, func(t *testing.T) {
			k.do(t, apiCall{role: fd, method: post, path: aPath + "/consents", body: tc.body, req: reqInvalid, status: 422})
		})
	}
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/consents", req: reqValid, status: 422,
		body: map[string]any{"kind": "contact_email", "form_version": "1", "signed_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "signed_by": "patient"}})
	k.do(t, apiCall{role: fd, method: post, path: "/v1/patients/" + uuid.NewString() + "/consents", body: treatment, req: reqValid, status: 404})
	k.do(t, apiCall{role: clin, method: post, path: aPath + "/consents", body: treatment, req: reqValid, status: 403})

	// ---- screenings ----
	screen := map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": eligible}
	scr := k.do(t, apiCall{role: clin, method: post, path: aPath + "/screenings", body: screen,
		header: []string{"Idempotency-Key", "screen-1"}, req: reqValid, status: 201})
	require.Equal(t, true, scr.JSON(t)["eligible"])
	inel := k.do(t, apiCall{role: fd, method: post, path: aPath + "/screenings", req: reqValid, status: 201,
		body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "Z999"}, "answers": disqualified}}).JSON(t)
	require.Equal(t, false, inel["eligible"])
	require.Equal(t, "Z99.9", inel["indication"].(map[string]any)["code"])
	unknownQ := map[string]bool{"smoker": true}
	for id, v := range eligible {
		unknownQ[id] = v
	}
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/screenings", req: reqValid, status: 422,
		body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": unknownQ}})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/screenings", req: reqValid, status: 422,
		body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": map[string]bool{}}})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/screenings", req: reqValid, status: 422,
		body: map[string]any{"program": "no-such-program", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": eligible}})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/screenings", req: reqInvalid, status: 422,
		body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-9", "code": "714.0"}, "answers": eligible}})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/screenings", req: reqInvalid, status: 422,
		body: map[string]any{"program": "nk-autologous", "answers": eligible}})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/screenings", req: reqInvalid, status: 400,
		body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": map[string]any{"pregnant": "no"}}})
	k.do(t, apiCall{role: fd, method: post, path: "/v1/patients/" + uuid.NewString() + "/screenings", body: screen, req: reqValid, status: 404})
	k.do(t, apiCall{role: bill, method: post, path: aPath + "/screenings", body: screen, req: reqValid, status: 403})
	scrs := k.do(t, apiCall{role: clin, method: get, path: aPath + "/screenings", req: reqValid, status: 200}).JSON(t)
	require.Len(t, scrs["items"], 2)
	k.do(t, apiCall{role: bill, method: get, path: aPath + "/screenings", req: reqValid, status: 403})

	// ---- courses ----
	start := time.Now().AddDate(0, 0, 14).Format(time.DateOnly)
	course := map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"},
		"preferred_start": start, "notes": "prefers mornings"}
	notReady := k.do(t, apiCall{role: fd, method: post, path: "/v1/patients/" + bID + "/courses", body: course, req: reqValid, status: 422}).JSON(t)
	var missing []string
	for _, m := range notReady["missing"].([]any) {
		missing = append(missing, m.(map[string]any)["code"].(string))
	}
	require.ElementsMatch(t, []string{"treatment_consent", "eligible_screening"}, missing)
	crs := k.do(t, apiCall{role: fd, method: post, path: aPath + "/courses", body: course,
		header: []string{"Idempotency-Key", "course-1"}, req: reqValid, status: 201})
	cj := crs.JSON(t)
	require.Equal(t, "requested", cj["status"])
	courseID := cj["id"].(string)
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/courses", body: course,
		header: []string{"Idempotency-Key", "course-1"}, req: reqValid, status: 201})
	past := map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "preferred_start": "2020-01-01"}
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/courses", body: past, req: reqValid, status: 422})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/courses", req: reqInvalid, status: 422,
		body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "preferred_start": "next week"}})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/courses", req: reqValid, status: 422,
		body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "Z99.9"}, "preferred_start": start}})
	k.do(t, apiCall{role: fd, method: post, path: aPath + "/courses", req: reqValid, status: 422,
		body: map[string]any{"program": "no-such-program", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "preferred_start": start}})
	k.do(t, apiCall{role: fd, method: post, path: "/v1/patients/" + uuid.NewString() + "/courses", body: course, req: reqValid, status: 404})
	k.do(t, apiCall{role: clin, method: post, path: aPath + "/courses", body: course, req: reqValid, status: 403})
	courses := k.do(t, apiCall{role: bill, method: get, path: aPath + "/courses", req: reqValid, status: 200}).JSON(t)
	require.Len(t, courses["items"], 1)
	k.do(t, apiCall{role: nurse, method: get, path: aPath + "/courses", req: reqValid, status: 403})

	cancelPath := "/v1/courses/" + courseID + "/cancel"
	cancelled := k.do(t, apiCall{role: fd, method: post, path: cancelPath, body: map[string]any{"reason": "patient travelling"}, req: reqValid, status: 200}).JSON(t)
	require.Equal(t, "cancelled", cancelled["status"])
	k.do(t, apiCall{role: fd, method: post, path: cancelPath, body: map[string]any{"reason": "again"}, req: reqValid, status: 409})
	k.do(t, apiCall{role: fd, method: post, path: "/v1/courses/" + uuid.NewString() + "/cancel", body: map[string]any{"reason": "x"}, req: reqValid, status: 404})
	k.do(t, apiCall{role: fd, method: post, path: "/v1/courses/not-a-uuid/cancel", body: map[string]any{"reason": "x"}, req: reqInvalid, status: 400})
	k.do(t, apiCall{role: fd, method: post, path: "/v1/courses/" + uuid.NewString() + "/cancel", body: "[]", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: bill, method: post, path: cancelPath, body: map[string]any{"reason": "x"}, req: reqValid, status: 403})

	// ---- audit ----
	audit := k.do(t, apiCall{role: admin, method: get, path: "/v1/audit?patient_id=" + aID, req: reqValid, status: 200}).JSON(t)
	actions := map[string]bool{}
	for _, e := range audit["items"].([]any) {
		actions[e.(map[string]any)["action"].(string)] = true
	}
	for _, want := range []string{"patient.read", "patient.search", "consents.read", "screenings.read", "courses.read"} {
		require.True(t, actions[want], "audit has %s: %v", want, actions)
	}
	k.do(t, apiCall{role: admin, method: get, path: "/v1/audit", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: admin, method: get, path: "/v1/audit?patient_id=x", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: admin, method: get, path: "/v1/audit?patient_id=" + aID + "&cursor=abc", req: reqInvalid, status: 400})
	k.do(t, apiCall{role: fd, method: get, path: "/v1/audit?patient_id=" + aID, req: reqValid, status: 403})

	// ---- every documented route is served, for exactly its roles ----
	ids := strings.NewReplacer("/v1/patients/{id}", aPath, "{cid}", smsID, "/v1/courses/{id}", "/v1/courses/"+courseID)
	probeHeader := map[string][]string{http.MethodPatch: {"If-Match", `"1"`}}
	byPath := map[string][]string{}
	for _, o := range k.operations() {
		byPath[o.Path] = append(byPath[o.Path], o.Method)
		concrete := ids.Replace(o.Path)
		if concrete == "/v1/audit" {
			concrete += "?patient_id=" + aID
		}
		if concrete == "/v1/patients" && o.Method == get {
			concrete += "?q=x"
		}
		var body any
		if o.Method == post || o.Method == patch {
			body = map[string]any{}
		}
		allowed, _ := roles(t, o.Op)
		callers := httpx.Roles()
		if len(allowed) == 0 {
			callers = []httpx.Role{""}
		}
		for _, r := range callers {
			t.Run(fmt.Sprintf("route/%s %s/%s", o.Method, o.Path, r), func(t *testing.T) {
				c := apiCall{role: r, method: o.Method, path: concrete, body: body, header: probeHeader[o.Method], req: reqAny}
				res := k.send(t, c)
				require.NotEqual(t, http.StatusMethodNotAllowed, res.Status, "%s %s is not served", o.Method, o.Path)
				if res.Status == http.StatusNotFound {
					require.NotContains(t, string(res.Body), "no such resource", "%s %s is not served", o.Method, o.Path)
				}
				c.status = res.Status
				k.do(t, c) // the same probe again, judged against the document and x-roles
			})
		}
	}
	for p, methods := range byPath {
		concrete := ids.Replace(p)
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if slices.Contains(methods, m) {
				continue
			}
			res := k.send(t, apiCall{role: fd, method: m, path: concrete})
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

	// ---- coverage: every operation answered its success status ----
	for _, o := range k.operations() {
		statuses := k.seen[o.Method+" "+o.Path]
		var success []string
		for code := range o.Op.Responses.Codes.KeysFromOldest() {
			if code[0] == '2' {
				success = append(success, code)
			}
		}
		for _, code := range success {
			n, _ := strconv.Atoi(code)
			assert.True(t, statuses[n], "%s %s never answered %s", o.Method, o.Path, code)
		}
		var got []int
		for st := range statuses {
			got = append(got, st)
		}
		sort.Ints(got)
		t.Logf("%-7s %-45s %v", o.Method, o.Path, got)
	}
}

// send makes a request without judging it (for probes).
func (k *contract) send(t *testing.T, c apiCall) apiResult {
	t.Helper()
	r := k.s.Do(t, c.role, c.method, c.path, c.body, c.header...)
	return apiResult{Status: r.Status, Header: r.Header, Body: r.Body}
}
