package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// ProblemTypeBase prefixes every problem type URI of clinicops. Services build
// their own domain problem types on it, e.g. ProblemTypeBase+"duplicate-patient".
const ProblemTypeBase = "https://clinicops.dev/problems/"

// Problem type URIs used by the constructors in this package.
const (
	TypeBadRequest           = ProblemTypeBase + "bad-request"
	TypeValidation           = ProblemTypeBase + "validation"
	TypeNotFound             = ProblemTypeBase + "not-found"
	TypeConflict             = ProblemTypeBase + "conflict"
	TypeUnauthorized         = ProblemTypeBase + "unauthorized"
	TypeForbidden            = ProblemTypeBase + "forbidden"
	TypePreconditionFailed   = ProblemTypeBase + "precondition-failed"
	TypePreconditionRequired = ProblemTypeBase + "precondition-required"
	TypeUnsupportedMediaType = ProblemTypeBase + "unsupported-media-type"
	TypePayloadTooLarge      = ProblemTypeBase + "payload-too-large"
	TypeMethodNotAllowed     = ProblemTypeBase + "method-not-allowed"
	TypeInternal             = ProblemTypeBase + "internal"
	TypeUnavailable          = ProblemTypeBase + "unavailable"
)

// ContentTypeProblem is the media type of RFC 9457 problem details.
const ContentTypeProblem = "application/problem+json"

// FieldError names one invalid input field by its JSON path ("address.city").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details object. It is also an error, so a
// [HandlerFunc] can return it (or wrap it) and have it written as is.
//
// Extensions are inlined at the top level of the JSON object; they cannot
// replace the standard members.
type Problem struct {
	Type       string
	Title      string
	Status     int
	Detail     string
	Instance   string
	Errors     []FieldError
	Extensions map[string]any

	// header holds response headers that belong to the problem, such as
	// WWW-Authenticate for 401 and Allow for 405.
	header http.Header
}

// reservedMembers are the standard members extensions may not override.
var reservedMembers = map[string]bool{
	"type": true, "title": true, "status": true, "detail": true, "instance": true, "errors": true,
}

// Error describes the problem; it carries no more than the response does.
func (p *Problem) Error() string {
	if p.Detail == "" {
		return fmt.Sprintf("%d %s", p.Status, p.Title)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
}

// WithExtension sets an extension member (e.g. "existing_patient_id") and
// returns p for chaining.
func (p *Problem) WithExtension(key string, value any) *Problem {
	if p.Extensions == nil {
		p.Extensions = make(map[string]any)
	}
	p.Extensions[key] = value
	return p
}

// MarshalJSON writes the standard members in RFC order followed by the
// extensions (sorted by key). It has a value receiver so that a Problem
// embedded by value still marshals correctly.
func (p Problem) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	member := func(key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("marshal problem member %q: %w", key, err)
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(key)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(b)
		return nil
	}
	typ := p.Type
	if typ == "" {
		typ = "about:blank"
	}
	if err := member("type", typ); err != nil {
		return nil, err
	}
	if err := member("title", p.Title); err != nil {
		return nil, err
	}
	if err := member("status", p.Status); err != nil {
		return nil, err
	}
	if p.Detail != "" {
		if err := member("detail", p.Detail); err != nil {
			return nil, err
		}
	}
	if p.Instance != "" {
		if err := member("instance", p.Instance); err != nil {
			return nil, err
		}
	}
	if len(p.Errors) > 0 {
		if err := member("errors", p.Errors); err != nil {
			return nil, err
		}
	}
	if len(p.Extensions) > 0 {
		ext := make(map[string]any, len(p.Extensions))
		for k, v := range p.Extensions {
			if !reservedMembers[k] {
				ext[k] = v
			}
		}
		// Marshal the map once to get sorted keys, then splice its members in.
		b, err := json.Marshal(ext)
		if err != nil {
			return nil, fmt.Errorf("marshal problem extensions: %w", err)
		}
		if inner := bytes.TrimSpace(b[1 : len(b)-1]); len(inner) > 0 {
			if !first {
				buf.WriteByte(',')
			}
			buf.Write(inner)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads a problem document, collecting unknown members into
// Extensions. Clients and tests use it; servers only write problems.
func (p *Problem) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("unmarshal problem: %w", err)
	}
	var out Problem
	fields := map[string]any{
		"type": &out.Type, "title": &out.Title, "status": &out.Status,
		"detail": &out.Detail, "instance": &out.Instance, "errors": &out.Errors,
	}
	for k, v := range raw {
		dst, ok := fields[k]
		if !ok {
			var ext any
			if err := json.Unmarshal(v, &ext); err != nil {
				return fmt.Errorf("unmarshal problem extension %q: %w", k, err)
			}
			if out.Extensions == nil {
				out.Extensions = make(map[string]any)
			}
			out.Extensions[k] = ext
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("unmarshal problem member %q: %w", k, err)
		}
	}
	*p = out
	return nil
}

// WriteProblem writes p as application/problem+json. An empty Instance becomes
// the request id, so a client can quote it and support can find the log line.
// r may be nil.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p == nil {
		p = Internal()
	}
	out := *p
	if out.Status < 100 || out.Status > 599 {
		out.Status = http.StatusInternalServerError
	}
	if out.Title == "" {
		out.Title = http.StatusText(out.Status)
	}
	if out.Instance == "" && r != nil {
		out.Instance = RequestIDFrom(r.Context())
	}
	b, err := json.Marshal(out)
	if err != nil {
		// Only an unmarshalable extension gets here; drop the extensions
		// rather than turn a 4xx into a 500.
		out.Extensions = nil
		b, _ = json.Marshal(out)
	}
	h := w.Header()
	for k, vs := range p.header {
		h[k] = append([]string(nil), vs...)
	}
	h.Del("Content-Length")
	h.Set("Content-Type", ContentTypeProblem)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(out.Status)
	_, _ = w.Write(append(b, '\n'))
}

func newProblem(status int, typ, title, detail string, fields []FieldError) *Problem {
	return &Problem{Type: typ, Title: title, Status: status, Detail: detail, Errors: fields}
}

// BadRequest (400) reports input that cannot be read: malformed JSON, a wrong
// type, an unknown field, a bad query parameter.
func BadRequest(detail string, fields ...FieldError) *Problem {
	return newProblem(http.StatusBadRequest, TypeBadRequest, "Invalid request", detail, fields)
}

// Unprocessable (422) reports well-formed input that breaks a rule
// (validation), naming the offending fields.
func Unprocessable(detail string, fields ...FieldError) *Problem {
	return newProblem(http.StatusUnprocessableEntity, TypeValidation, "Validation failed", detail, fields)
}

// NotFound (404) reports a missing resource or route.
func NotFound(detail string) *Problem {
	return newProblem(http.StatusNotFound, TypeNotFound, "Not found", detail, nil)
}

// Conflict (409) reports a request that clashes with the current state, such
// as a duplicate patient or a double booking.
func Conflict(detail string) *Problem {
	return newProblem(http.StatusConflict, TypeConflict, "Conflict", detail, nil)
}

// Unauthorized (401) reports a missing or invalid bearer token and adds the
// WWW-Authenticate challenge.
func Unauthorized(detail string) *Problem {
	p := newProblem(http.StatusUnauthorized, TypeUnauthorized, "Authentication required", detail, nil)
	p.header = http.Header{"Www-Authenticate": {"Bearer"}}
	return p
}

// Forbidden (403) reports an authenticated caller whose role may not do this.
func Forbidden(detail string) *Problem {
	return newProblem(http.StatusForbidden, TypeForbidden, "Forbidden", detail, nil)
}

// PreconditionFailed (412) reports an If-Match that no longer matches.
func PreconditionFailed(detail string) *Problem {
	return newProblem(http.StatusPreconditionFailed, TypePreconditionFailed, "Precondition failed", detail, nil)
}

// PreconditionRequired (428) reports a missing If-Match or Idempotency-Key.
func PreconditionRequired(detail string) *Problem {
	return newProblem(http.StatusPreconditionRequired, TypePreconditionRequired, "Precondition required", detail, nil)
}

// UnsupportedMediaType (415) reports a request body of the wrong media type.
func UnsupportedMediaType(detail string) *Problem {
	return newProblem(http.StatusUnsupportedMediaType, TypeUnsupportedMediaType, "Unsupported media type", detail, nil)
}

// PayloadTooLarge (413) reports a request body over the size limit.
func PayloadTooLarge(detail string) *Problem {
	return newProblem(http.StatusRequestEntityTooLarge, TypePayloadTooLarge, "Payload too large", detail, nil)
}

// MethodNotAllowed (405) reports a known path called with the wrong method and
// sets the Allow header to the methods the path accepts.
func MethodNotAllowed(allowed ...string) *Problem {
	p := newProblem(http.StatusMethodNotAllowed, TypeMethodNotAllowed, "Method not allowed", "", nil)
	if len(allowed) > 0 {
		list := strings.Join(allowed, ", ")
		p.Detail = "allowed methods: " + list
		p.header = http.Header{"Allow": {list}}
	}
	return p
}

// Unavailable (503) reports a service that cannot serve yet, e.g. not ready.
func Unavailable(detail string) *Problem {
	return newProblem(http.StatusServiceUnavailable, TypeUnavailable, "Service unavailable", detail, nil)
}

// DatabaseUnavailable (503) answers a request the service could not serve
// because its database is down, restarting or offline. Retry-After asks the
// client to try again in a second or two. The request was most likely not
// applied (unless the connection was lost during its commit): a keyed POST
// retried under the same Idempotency-Key is answered once either way.
func DatabaseUnavailable() *Problem {
	p := newProblem(http.StatusServiceUnavailable, TypeUnavailable, "Service unavailable",
		"the service's database is not reachable at the moment; the request was most likely not applied: try again shortly (a POST under the same Idempotency-Key)", nil)
	p.header = http.Header{"Retry-After": {"2"}}
	return p
}

// Internal (500) is the answer to a bug. Its detail is deliberately generic:
// error texts can carry SQL values or personal data, so they go to the log
// (keyed by request id) and never to the client.
func Internal() *Problem {
	return newProblem(http.StatusInternalServerError, TypeInternal, "Internal server error",
		"an unexpected error occurred; quote the instance (request id) when reporting it", nil)
}
