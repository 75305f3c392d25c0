package httpx_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

type contact struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type Audit struct {
	Source string `json:"source"`
}

type registerPatient struct {
	Audit               // embedded: its fields are promoted in JSON
	Name      string    `json:"name"`
	Age       int       `json:"age"`
	Consented bool      `json:"consented"`
	Address   *address  `json:"address"`
	Contacts  []contact `json:"contacts"`
	Labels    map[string]contact
	ClinicID  uuid.UUID      `json:"clinic_id"`
	Seen      time.Time      `json:"seen"`
	Extra     map[string]any `json:"extra"`
}

type address struct {
	City     string `json:"city"`
	Postcode int    `json:"postcode"`
}

func jsonRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/patients", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string // "-" means none
		body        string
		maxBytes    int64
		wantStatus  int // 0: success
		wantField   string
		wantDetail  string
	}{
		{name: "valid", body: `{"name":"A","age":30,"address":{"city":"Shanghai"},"contacts":[{"kind":"sms","value":"1"}]}`},
		{name: "valid with charset", contentType: "application/json; charset=utf-8", body: `{"name":"A"}`},
		{name: "trailing whitespace is fine", body: "{\"name\":\"A\"}\n\t "},
		{name: "case-insensitive key", body: `{"NAME":"A"}`},
		{name: "embedded field", body: `{"source":"kiosk"}`},
		{name: "missing content type", contentType: "-", body: `{}`, wantStatus: 415},
		{name: "wrong media type", contentType: "text/plain", body: `{}`, wantStatus: 415},
		{name: "form media type", contentType: "application/x-www-form-urlencoded", body: `name=A`, wantStatus: 415},
		{name: "non utf-8 charset", contentType: "application/json; charset=latin1", body: `{}`, wantStatus: 415},
		{name: "malformed media type", contentType: "application/json; charset", body: `{}`, wantStatus: 415},
		{name: "oversized", body: `{"name":"` + strings.Repeat("a", 100) + `"}`, maxBytes: 64, wantStatus: 413},
		{name: "empty", body: ``, wantStatus: 400, wantDetail: "empty"},
		{name: "whitespace only", body: " \n ", wantStatus: 400, wantDetail: "empty"},
		{name: "null", body: `null`, wantStatus: 400, wantDetail: "null"},
		{name: "bad json", body: `{"name": x}`, wantStatus: 400, wantDetail: "offset 10"},
		{name: "truncated json", body: `{"name": "A"`, wantStatus: 400, wantDetail: "unexpected end"},
		{name: "wrong type", body: `{"age":"thirty"}`, wantStatus: 400, wantField: "age", wantDetail: `"age" must be an integer`},
		{name: "float for int", body: `{"age":30.5}`, wantStatus: 400, wantField: "age"},
		{name: "wrong type nested", body: `{"address":{"postcode":"200000"}}`, wantStatus: 400, wantField: "address.postcode"},
		{name: "wrong type in array", body: `{"contacts":[{"kind":1}]}`, wantStatus: 400, wantField: "contacts.kind"},
		{name: "wrong type embedded", body: `{"source":7}`, wantStatus: 400, wantField: "source"},
		{name: "array for object", body: `{"address":[]}`, wantStatus: 400, wantField: "address", wantDetail: "an object"},
		{name: "top-level array", body: `[1,2]`, wantStatus: 400, wantDetail: "JSON object"},
		{name: "unknown field", body: `{"name":"A","nmae":"B"}`, wantStatus: 400, wantField: "nmae", wantDetail: "unknown field"},
		{name: "unknown nested field", body: `{"address":{"city":"S","street":"x"}}`, wantStatus: 400, wantField: "address.street"},
		{name: "unknown field in array", body: `{"contacts":[{"kind":"sms"},{"kind":"sms","phone":"1"}]}`, wantStatus: 400, wantField: "contacts.phone"},
		{name: "unknown field in map value", body: `{"Labels":{"home":{"kind":"a","x":1}}}`, wantStatus: 400, wantField: "Labels.home.x"},
		{name: "free-form map accepts anything", body: `{"extra":{"anything":{"goes":[1]}}}`},
		{name: "trailing object", body: `{"name":"A"}{"name":"B"}`, wantStatus: 400, wantDetail: "single JSON value"},
		{name: "trailing garbage", body: `{"name":"A"} x`, wantStatus: 400, wantDetail: "single JSON value"},
		{name: "bad uuid", body: `{"clinic_id":"not-a-uuid"}`, wantStatus: 400},
		{name: "bad time", body: `{"seen":"yesterday"}`, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := jsonRequest(tt.body)
			switch tt.contentType {
			case "":
			case "-":
				r.Header.Del("Content-Type")
			default:
				r.Header.Set("Content-Type", tt.contentType)
			}
			var dst registerPatient
			err := httpx.DecodeJSON(r, &dst, tt.maxBytes)
			if tt.wantStatus == 0 {
				require.NoError(t, err)
				return
			}
			var p *httpx.Problem
			require.True(t, errors.As(err, &p), "want *Problem, got %T %v", err, err)
			require.Equal(t, tt.wantStatus, p.Status, p.Detail)
			require.Contains(t, p.Detail, tt.wantDetail)
			if tt.wantField != "" {
				require.Len(t, p.Errors, 1)
				require.Equal(t, tt.wantField, p.Errors[0].Field)
				require.NotEmpty(t, p.Errors[0].Message)
			}
			require.NotContains(t, p.Detail, "thirty", "values are never echoed")
		})
	}
}

func TestDecodeJSONInvalidDestinationIsABug(t *testing.T) {
	t.Parallel()
	var dst registerPatient
	err := httpx.DecodeJSON(jsonRequest(`{}`), dst, 0) // not a pointer
	require.Error(t, err)
	var p *httpx.Problem
	require.False(t, errors.As(err, &p), "a programming error must become a 500, not a 4xx")
}

func TestDecodeJSONThroughHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.router.Handle("POST /v1/patients", func(w http.ResponseWriter, r *http.Request) error {
		var req registerPatient
		if err := httpx.DecodeJSON(r, &req, 1024); err != nil {
			return err
		}
		return httpx.WriteJSON(w, http.StatusCreated, map[string]string{"name": req.Name})
	}, httpx.RoleFrontDesk)

	h := bearer(httpx.RoleFrontDesk)
	h.Set("Content-Type", "application/json")
	rec := do(t, b.router, http.MethodPost, "/v1/patients", `{"name":"Li Wei","age":"x"}`, h)
	p := requireProblem(t, rec, http.StatusBadRequest)
	require.Equal(t, []httpx.FieldError{{Field: "age", Message: "must be an integer"}}, p.Errors)
	require.NotContains(t, b.logs.String(), "Li Wei", "bodies are never logged")

	rec = do(t, b.router, http.MethodPost, "/v1/patients", `{"name":"Li Wei"}`, h)
	require.Equal(t, http.StatusCreated, rec.Code)
	require.NotContains(t, b.logs.String(), "Li Wei", "bodies are never logged")
}

func FuzzDecodeJSON(f *testing.F) {
	seeds := []struct{ ct, body string }{
		{"application/json", `{"name":"A","age":3,"address":{"city":"S","postcode":1},"contacts":[{"kind":"k","value":"v"}]}`},
		{"application/json", `{"age":"x"}`},
		{"application/json", `{"address":{"zip":1}}`},
		{"application/json", `{"Labels":{"a":{"b":1}}}`},
		{"application/json", `{"clinic_id":"0190a1b2-0000-7000-8000-000000000000","seen":"2026-01-02T03:04:05Z"}`},
		{"application/json", `{} {}`},
		{"application/json", `[`},
		{"application/json", ``},
		{"application/json", `null`},
		{"application/json; charset=utf-8", `{"extra":{"x":[null,true,1e400]}}`},
		{"text/plain", `{}`},
		{"", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/v1/patients", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", contentType)
		var dst registerPatient
		err := httpx.DecodeJSON(r, &dst, 4096)
		if err == nil {
			requireText(t, reflect.ValueOf(dst))
			return
		}
		var p *httpx.Problem
		if !errors.As(err, &p) {
			t.Fatalf("error is not a *Problem: %T %v", err, err)
		}
		if p.Status < 400 || p.Status > 499 {
			t.Fatalf("status %d is not a 4xx: %v", p.Status, p)
		}
		for _, fe := range p.Errors {
			if fe.Field == "" || fe.Message == "" {
				t.Fatalf("field error without field or message: %+v", fe)
			}
		}
	})
}
