package httpx

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// DefaultMaxBodyBytes is the body limit DecodeJSON applies when given 0.
const DefaultMaxBodyBytes int64 = 1 << 20

// DecodeJSON strictly decodes a request body holding exactly one JSON value
// into dst (a non-nil pointer). Every rejection is a *Problem naming what is
// wrong, and the messages never quote the offending values:
//
//   - 415 if Content-Type is not application/json (parameters such as
//     charset=utf-8 are allowed; a charset other than UTF-8 is not);
//   - 413 if the body exceeds maxBytes (DefaultMaxBodyBytes when maxBytes <= 0);
//   - 400 for an empty body, malformed JSON (with the byte offset), a value of
//     the wrong type or an unknown field (with the field's JSON path), a bare
//     null, or data after the first value;
//   - 400 for text encoding/json would silently repair or pass on: bytes that
//     are not UTF-8, an unpaired surrogate escape, or a \u0000 escape (NUL),
//     naming the field and the byte offset.
//
// A dst that is not a non-nil pointer is a programming error and comes back as
// a plain error (hence a 500).
func DecodeJSON(r *http.Request, dst any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	if p := checkJSONContentType(r.Header.Get("Content-Type")); p != nil {
		return p
	}
	if r.Body == nil {
		return BadRequest("request body is empty")
	}
	// Read the whole body up front: the limit then applies to the body, not to
	// however far the decoder happened to read ahead.
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return PayloadTooLarge(fmt.Sprintf("request body must not exceed %d bytes", maxBytes))
		}
		return BadRequest("request body could not be read")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return BadRequest("request body is empty")
	}
	if bytes.Equal(trimmed, []byte("null")) {
		return BadRequest("request body must not be null")
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeProblem(err, body, dst)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return BadRequest("request body must contain a single JSON value; found data after it")
	}
	// encoding/json has replaced bad text with U+FFFD and kept NULs; refuse
	// both rather than store them.
	if p := checkJSONText(body); p != nil {
		return p
	}
	return nil
}

func checkJSONContentType(ct string) *Problem {
	const want = "Content-Type must be application/json"
	if ct == "" {
		return UnsupportedMediaType(want)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return UnsupportedMediaType(want)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return UnsupportedMediaType("application/json bodies must be UTF-8")
	}
	return nil
}

// decodeProblem maps an encoding/json error to a 400 problem.
func decodeProblem(err error, body []byte, dst any) error {
	var (
		syntaxErr  *json.SyntaxError
		typeErr    *json.UnmarshalTypeError
		invalidErr *json.InvalidUnmarshalError
		p          *Problem
	)
	switch {
	case errors.As(err, &invalidErr):
		return fmt.Errorf("decode json: %w", err)
	case errors.As(err, &p):
		return p // a custom UnmarshalJSON may reject with its own problem
	case errors.As(err, &syntaxErr):
		return BadRequest(fmt.Sprintf("request body is not valid JSON at byte offset %d: %s", syntaxErr.Offset, syntaxMessage(syntaxErr)))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("request body is not valid JSON: unexpected end of input")
	case errors.As(err, &typeErr):
		dstType := reflect.TypeOf(dst)
		if typeErr.Field == "" {
			if k := derefType(dstType); k != nil && (k.Kind() == reflect.Struct || k.Kind() == reflect.Map) {
				return BadRequest("request body must be a JSON object")
			}
			return BadRequest("request body must be " + jsonKind(typeErr.Type))
		}
		path := typeErrorPath(dstType, typeErr.Field)
		msg := "must be " + jsonKind(typeErr.Type)
		return BadRequest(fmt.Sprintf("field %q %s", path, msg), FieldError{Field: path, Message: msg})
	}
	if key, ok := unknownFieldKey(err); ok {
		path := key
		if found, ok := findUnknownField(body, reflect.TypeOf(dst), key); ok {
			path = found
		}
		p := BadRequest(fmt.Sprintf("unknown field %q", path))
		if path != "" {
			p.Errors = []FieldError{{Field: path, Message: "unknown field"}}
		}
		return p
	}
	// Errors from a type's own UnmarshalJSON/UnmarshalText (a malformed UUID
	// or date) come without a field name; their text may quote the input.
	return BadRequest("request body contains an invalid value")
}

// syntaxMessage strips the "json: " prefix some versions of encoding/json add.
func syntaxMessage(e *json.SyntaxError) string {
	return strings.TrimPrefix(e.Error(), "json: ")
}

// unknownFieldKey extracts the key from encoding/json's `json: unknown field
// "name"` error, which has no exported type.
func unknownFieldKey(err error) (string, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	key, uerr := strconv.Unquote(rest)
	if uerr != nil {
		return "", false
	}
	return key, true
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// jsonKind describes, for a client, the JSON a Go type expects.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	if t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	default:
		return "a valid value"
	}
}

// derefType strips pointers.
func derefType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// decodesItself reports whether t (or *t) decodes its own JSON, so its keys
// are none of our business.
func decodesItself(t reflect.Type) bool {
	return t.Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(jsonUnmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)
}

// containerStruct follows pointers, slices, arrays and maps down to a struct
// type whose fields a JSON object can address, or returns nil.
func containerStruct(t reflect.Type) reflect.Type {
	for t != nil {
		if decodesItself(t) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			return t
		default:
			return nil
		}
	}
	return nil
}

// typeErrorPath turns UnmarshalTypeError.Field, which includes the Go names
// of embedded structs ("Contact.phone"), into the JSON path ("phone").
func typeErrorPath(dst reflect.Type, field string) string {
	cur := dst
	var out []string
	for seg := range strings.SplitSeq(field, ".") {
		st := containerStruct(cur)
		if st == nil {
			out = append(out, seg)
			cur = nil
			continue
		}
		if name, ft, ok := lookupJSONField(st, seg); ok {
			out = append(out, name)
			cur = ft
			continue
		}
		if sf, ok := st.FieldByName(seg); ok && sf.Anonymous {
			cur = sf.Type // an embedded struct: invisible in JSON
			continue
		}
		out = append(out, seg)
		cur = nil
	}
	return strings.Join(out, ".")
}

// jsonField is one key a struct accepts, after promotion through embedding.
type jsonField struct {
	name   string
	typ    reflect.Type
	depth  int
	tagged bool
}

// structJSONFields lists the keys of struct type t roughly as encoding/json
// sees them. It is only used to word error messages, so near enough is enough.
func structJSONFields(t reflect.Type) []jsonField {
	var out []jsonField
	visited := map[reflect.Type]bool{}
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		if visited[t] {
			return
		}
		visited[t] = true
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous {
				ft := derefType(sf.Type)
				if name == "" && ft.Kind() == reflect.Struct {
					walk(ft, depth+1)
					continue
				}
				if !sf.IsExported() {
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = sf.Name
			}
			out = append(out, jsonField{name: name, typ: sf.Type, depth: depth, tagged: tagged})
		}
	}
	walk(t, 0)
	return out
}

// lookupJSONField finds the field a JSON key selects: exact name first, then
// case-insensitively; the shallowest (then tagged) field wins.
func lookupJSONField(t reflect.Type, key string) (string, reflect.Type, bool) {
	fields := structJSONFields(t)
	for _, match := range []func(string) bool{
		func(n string) bool { return n == key },
		func(n string) bool { return strings.EqualFold(n, key) },
	} {
		var best *jsonField
		for i := range fields {
			f := &fields[i]
			if !match(f.name) {
				continue
			}
			if best == nil || f.depth < best.depth || (f.depth == best.depth && f.tagged && !best.tagged) {
				best = f
			}
		}
		if best != nil {
			return best.name, best.typ, true
		}
	}
	return "", nil, false
}

// findUnknownField walks the (syntactically valid) body alongside dst's type
// and returns the JSON path of the first key no struct accepts. encoding/json
// reports only the bare key; the path tells a client which nested object holds
// it. Keys must match want, so a divergence from encoding/json's view yields
// ok=false and the caller falls back to the bare key.
func findUnknownField(body []byte, dst reflect.Type, want string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	path, found, err := walkUnknown(dec, dst, want, nil)
	if err != nil || !found {
		return "", false
	}
	return path, true
}

func walkUnknown(dec *json.Decoder, t reflect.Type, want string, path []string) (string, bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", false, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return "", false, nil
	}
	// Resolve what the value decodes into; nil means "anything goes".
	for t != nil && t.Kind() == reflect.Pointer && !decodesItself(t) {
		t = t.Elem()
	}
	if t != nil && (decodesItself(t) || t.Kind() == reflect.Interface) {
		t = nil
	}
	switch delim {
	case '{':
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", false, err
			}
			key, _ := kt.(string)
			name := key
			var sub reflect.Type
			if t != nil {
				switch t.Kind() {
				case reflect.Struct:
					n, ft, ok := lookupJSONField(t, key)
					if !ok && key == want {
						return strings.Join(append(path, key), "."), true, nil
					}
					name, sub = n, ft
					if !ok {
						name = key
					}
				case reflect.Map:
					sub = t.Elem()
				}
			}
			if p, found, err := walkUnknown(dec, sub, want, append(path, name)); found || err != nil {
				return p, found, err
			}
		}
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if p, found, err := walkUnknown(dec, elem, want, path); found || err != nil {
				return p, found, err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return "", false, err
	}
	return "", false, nil
}
