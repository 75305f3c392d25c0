package httpx

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// PathUUID parses the path parameter name (a ServeMux wildcard, "{id}") as a
// UUID. Anything else is a 400 problem naming the parameter: a malformed id
// cannot name any resource, and saying so is more useful than a 404.
func PathUUID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue(name))
	if err != nil {
		return uuid.Nil, BadRequest("the "+name+" in the path is not a UUID", FieldError{Field: name, Message: "must be a UUID"})
	}
	return id, nil
}

// ETag is the strong entity tag of a resource version: `"3"`. Every
// aggregate carries a version that grows with each change, so the version is
// the tag.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// IfMatchVersion reads the version a conditional write (PATCH, PUT, a state
// change) expects from If-Match: a 428 problem when the header is missing, a
// 412 when it is not one version ETag (`"3"`; the weak form W/"3" is taken
// too, since some proxies weaken tags). Compare the result with the stored
// version inside the update and answer 412 on a mismatch.
func IfMatchVersion(r *http.Request) (int64, error) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 || strings.TrimSpace(values[0]) == "" {
		return 0, PreconditionRequired("this request needs If-Match with the resource's ETag; GET it first")
	}
	tag := strings.TrimPrefix(strings.TrimSpace(values[0]), "W/")
	if len(values) > 1 || len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, PreconditionFailed("If-Match must be one ETag of this resource")
	}
	version, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64)
	if err != nil || version < 1 {
		return 0, PreconditionFailed("If-Match must be one ETag of this resource")
	}
	return version, nil
}

// CheckQueryNames refuses a query parameter that is not one of allowed with
// a 400 naming it: a misspelt filter ("nmae=") must not silently widen a
// search.
func CheckQueryNames(q url.Values, allowed ...string) error {
	var fields []FieldError
	for k := range q {
		if !slices.Contains(allowed, k) {
			fields = append(fields, FieldError{Field: k, Message: "is not a parameter of this operation"})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	slices.SortFunc(fields, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return BadRequest("unknown query parameter", fields...)
}

// Pagination is a list operation's page size policy. The query parameters
// are `limit` (1..Max, Default when absent) and `cursor` (the next_cursor of
// the previous page, opaque to clients).
type Pagination struct {
	Default int
	Max     int
}

// PageRequest is what a client asked for.
type PageRequest struct {
	Limit  int
	Cursor string
}

// Parse reads limit and cursor from q. A bad limit comes back as a field
// error, so that the caller can report it together with its other
// parameters' errors in one 400.
func (p Pagination) Parse(q url.Values) (PageRequest, []FieldError) {
	out := PageRequest{Limit: p.Default, Cursor: q.Get("cursor")}
	v := q.Get("limit")
	if v == "" {
		return out, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > p.Max {
		return out, []FieldError{{Field: "limit", Message: fmt.Sprintf("must be an integer from 1 to %d", p.Max)}}
	}
	out.Limit = n
	return out, nil
}

// Page is the envelope of every list answer: the items and the cursor of the
// next page, null on the last one.
type Page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// NewPage builds a page; nil items become [] and an empty next becomes null.
func NewPage[T any](items []T, next string) Page[T] {
	if items == nil {
		items = []T{}
	}
	p := Page[T]{Items: items}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}

// BadCursor is the 400 for a cursor this list did not issue.
func BadCursor() *Problem {
	return BadRequest("the cursor is not valid", FieldError{Field: "cursor", Message: "was not issued by this list"})
}

// maxCursor bounds what DecodeCursor reads: cursors are small.
const maxCursor = 1024

// EncodeCursor makes an opaque cursor of v (a small struct holding the sort
// key of the last item): base64url of its JSON. Opaque so that clients don't
// build cursors and the server may change what is inside; it is not a
// secret and not signed, so DecodeCursor's result must be treated as input.
func EncodeCursor(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// DecodeCursor reads a cursor made by EncodeCursor into v; anything else is
// the BadCursor problem.
func DecodeCursor(s string, v any) error {
	if len(s) > maxCursor {
		return BadCursor()
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || string(b) == "null" || json.Unmarshal(b, v) != nil {
		return BadCursor()
	}
	return nil
}
