package httpx_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// textRouter is a router with a path parameter, a rest wildcard, query
// parameters and a JSON body, each echoed back when accepted.
func textRouter(t testing.TB) http.Handler {
	t.Helper()
	rt := httpx.NewRouter(nil, slog.New(slog.DiscardHandler))
	rt.Public("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return httpx.WriteJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "query": r.URL.Query()})
	})
	rt.Public("GET /v1/files/{name...}", func(w http.ResponseWriter, r *http.Request) error {
		return httpx.WriteJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name")})
	})
	rt.Public("POST /v1/things", func(w http.ResponseWriter, r *http.Request) error {
		var dst registerPatient
		if err := httpx.DecodeJSON(r, &dst, 0); err != nil {
			return err
		}
		return httpx.WriteJSON(w, http.StatusCreated, dst)
	})
	return rt
}

func TestRouterRefusesBadTextInQueryPathAndHeaders(t *testing.T) {
	t.Parallel()
	h := textRouter(t)
	tests := []struct {
		name   string
		target string
		header http.Header
		field  string
		detail string
	}{
		{"NUL in a query value", "/v1/things/1?q=%00", nil, "q", `query parameter "q" contains a NUL character`},
		{"invalid UTF-8 in a query value", "/v1/things/1?a=1&q=%ff%fe", nil, "q", `query parameter "q" is not valid UTF-8`},
		{"NUL in a query name", "/v1/things/1?a=1&%00=x", nil, "query", "the name of query parameter #2 contains a NUL character"},
		{"invalid UTF-8 in a query name", "/v1/things/1?%C3=x", nil, "query", "the name of query parameter #1 is not valid UTF-8"},
		{"bad percent-escape in a value", "/v1/things/1?q=%zz", nil, "q", `query parameter "q" is not properly percent-encoded`},
		{"bad percent-escape in a name", "/v1/things/1?%z=1", nil, "query", "the name of query parameter #1 is not properly percent-encoded"},
		{"semicolon", "/v1/things/1?a=1;b=2", nil, "query", "query parameter #1 contains a semicolon; separate parameters with &"},
		{"NUL in a path parameter", "/v1/things/ab%00cd", nil, "id", `path parameter "id" contains a NUL character`},
		{"invalid UTF-8 in a path parameter", "/v1/things/%ff", nil, "id", `path parameter "id" is not valid UTF-8`},
		{"invalid UTF-8 in a rest wildcard", "/v1/files/a/b/%ff", nil, "name", `path parameter "name" is not valid UTF-8`},
		{"invalid UTF-8 in an unmatched path", "/v1/%ff/x", nil, "path", "path segment #2 is not valid UTF-8"},
		{"invalid UTF-8 in a header", "/v1/things/1", http.Header{"X-Note": {"caf\xe9"}}, "X-Note", "header X-Note is not valid UTF-8"},
		{"NUL in a header", "/v1/things/1", http.Header{"X-Note": {"a\x00b"}}, "X-Note", "header X-Note contains a NUL character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, h, http.MethodGet, tc.target, "", tc.header)
			p := requireProblem(t, rec, http.StatusBadRequest)
			require.Equal(t, tc.detail, p.Detail)
			require.Len(t, p.Errors, 1)
			require.Equal(t, tc.field, p.Errors[0].Field)
		})
	}

	// Good text passes untouched, multi-byte characters included.
	rec := do(t, h, http.MethodGet, "/v1/things/%E7%8E%8B?q="+url.QueryEscape("欧阳 娜娜")+"&empty=&flag", "", http.Header{"X-Note": {"plain"}})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got struct {
		ID    string              `json:"id"`
		Query map[string][]string `json:"query"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, "王", got.ID)
	require.Equal(t, []string{"欧阳 娜娜"}, got.Query["q"])
}

func TestDecodeJSONRefusesBadText(t *testing.T) {
	t.Parallel()
	h := textRouter(t)
	tests := []struct {
		name   string
		body   string
		field  string // "" when the problem names no field
		detail string
	}{
		{"invalid UTF-8 in a value", `{"name":"Li` + "\xff" + `"}`, "name", `field "name" is not valid UTF-8 (byte offset 11)`},
		{"overlong encoding", `{"name":"` + "\xc0\xaf" + `"}`, "name", `field "name" is not valid UTF-8 (byte offset 9)`},
		{"encoded surrogate", `{"name":"` + "\xed\xa0\x80" + `"}`, "name", `field "name" is not valid UTF-8 (byte offset 9)`},
		{"NUL escape", `{"address":{"city":"a\u0000b"}}`, "address.city", `field "address.city" contains a NUL character (\u0000) (byte offset 21)`},
		{"NUL in an array", `{"contacts":[{"kind":"x","value":"y"},{"kind":"\u0000"}]}`, "contacts[1].kind", `field "contacts[1].kind" contains a NUL character (\u0000) (byte offset 47)`},
		{"NUL in a free-form map key", `{"extra":{"a\u0000":1}}`, "extra", `request body at byte offset 12: a string contains a NUL character (\u0000)`},
		{"unpaired high surrogate", `{"name":"\ud800x"}`, "name", `field "name" contains an unpaired UTF-16 surrogate escape (byte offset 9)`},
		{"unpaired low surrogate", `{"name":"\uDC00"}`, "name", `field "name" contains an unpaired UTF-16 surrogate escape (byte offset 9)`},
		{"invalid UTF-8 in a top-level key", `{"na` + "\xff" + `me":"x"}`, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, h, http.MethodPost, "/v1/things", tc.body, http.Header{"Content-Type": {"application/json"}})
			p := requireProblem(t, rec, http.StatusBadRequest)
			if tc.detail != "" {
				require.Equal(t, tc.detail, p.Detail)
			}
			if tc.field != "" {
				require.Len(t, p.Errors, 1)
				require.Equal(t, tc.field, p.Errors[0].Field)
			}
		})
	}

	// An escaped backslash before u0000 is text, not a NUL; a surrogate
	// pair is a character; both pass.
	rec := do(t, h, http.MethodPost, "/v1/things", `{"name":"a\\u0000 \ud83d\ude00 é"}`, http.Header{"Content-Type": {"application/json"}})
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var got registerPatient
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, `a\u0000 😀 é`, got.Name)
}

// requireText fails if any string reachable from v is not valid UTF-8 or
// holds NUL: what DecodeJSON accepts must be storable as is.
func requireText(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Fatalf("decoded text is not clean: %q", s)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			requireText(t, v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				requireText(t, v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			requireText(t, v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			requireText(t, k)
			requireText(t, v.MapIndex(k))
		}
	default:
	}
}

// FuzzRouterRequestLine sends arbitrary request targets (paths and query
// strings) and header values through a Router with path parameters: nothing
// may answer 5xx, every 4xx must be a problem document naming a field, and
// whatever a handler gets to see must be clean text.
func FuzzRouterRequestLine(f *testing.F) {
	for _, s := range []struct{ target, header string }{
		{"/v1/things/1?q=%00", ""},
		{"/v1/things/%ff?q=x", ""},
		{"/v1/things/abc?q=" + url.QueryEscape("欧阳") + "&limit=2", "ok"},
		{"/v1/files/a/b/c", "caf\xe9"},
		{"/v1/things/1?a=1;b=2&%zz", ""},
		{"/v1/things/1?%C3%28=1", ""},
		{"/v1/../things/1", ""},
		{"//v1/things/1", ""},
		{"/v1/things/%2F%2e%2e?x=%", ""},
		{"/", ""},
	} {
		f.Add(s.target, s.header)
	}
	h := textRouter(f)
	f.Fuzz(func(t *testing.T, target, header string) {
		// Build the request the way net/http's server would from a request
		// line; targets it would refuse never reach a Router.
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			return
		}
		req.Header.Set("X-Note", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", target, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 {
			if ct := rec.Header().Get("Content-Type"); ct != httpx.ContentTypeProblem {
				t.Fatalf("%q: %d with Content-Type %q", target, rec.Code, ct)
			}
			var p httpx.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code {
				t.Fatalf("%q: bad problem %s", target, rec.Body.String())
			}
			for _, fe := range p.Errors {
				if fe.Field == "" || fe.Message == "" {
					t.Fatalf("%q: field error without a field or message: %+v", target, fe)
				}
			}
			return
		}
		if rec.Code == http.StatusOK {
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%q: %v", target, err)
			}
			// The handler's view is echoed; json.Marshal would have
			// replaced bad text with U+FFFD, so look at the request itself.
			for k, vs := range req.URL.Query() {
				requireText(t, reflect.ValueOf(append(vs, k)))
			}
			requireText(t, reflect.ValueOf(req.URL.Path))
			requireText(t, reflect.ValueOf(header))
		}
	})
}
