package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bad bytes are refused at the platform's edge, for every service at once:
// text that is not UTF-8 cannot be stored in a UTF-8 database, and a NUL
// (U+0000) is refused by PostgreSQL's text types. Both used to reach the
// database and come back as a 500, or worse, be "repaired" to U+FFFD by
// encoding/json and stored and published mangled. The Router checks the
// query, the path and the headers of every request (checkRequestText);
// DecodeJSON checks the body (checkJSONText).

// textProblem says why s cannot be accepted as text, or "" if it can.
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character"
	}
	return ""
}

// checkRequestText refuses a request whose query parameters, path or
// header values are not valid UTF-8 or contain NUL, and a query string that
// is not properly percent-encoded. pattern is the matched route pattern (""
// when none matched), used to name the path parameter at fault. The problem
// names the parameter or header; it never quotes the value.
func checkRequestText(r *http.Request, pattern string) *Problem {
	if p := checkQueryText(r.URL.RawQuery); p != nil {
		return p
	}
	if p := checkPathText(r.URL.Path, pattern); p != nil {
		return p
	}
	return checkHeaderText(r.Header)
}

// checkQueryText parses the raw query the way url.ParseQuery does, but
// refuses what ParseQuery would silently drop (a bad percent-escape, a
// semicolon) and text that is not UTF-8 or holds NUL.
func checkQueryText(raw string) *Problem {
	if raw == "" {
		return nil
	}
	n := 0
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		n++
		if strings.Contains(pair, ";") {
			return BadRequest(fmt.Sprintf("query parameter #%d contains a semicolon; separate parameters with &", n),
				FieldError{Field: "query", Message: fmt.Sprintf("parameter #%d contains a semicolon", n)})
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return BadRequest(fmt.Sprintf("the name of query parameter #%d is not properly percent-encoded", n),
				FieldError{Field: "query", Message: fmt.Sprintf("parameter #%d has a name that is not properly percent-encoded", n)})
		}
		if msg := textProblem(key); msg != "" {
			return BadRequest(fmt.Sprintf("the name of query parameter #%d %s", n, msg),
				FieldError{Field: "query", Message: fmt.Sprintf("parameter #%d has a name that %s", n, msg)})
		}
		field := key
		if field == "" {
			field = "query"
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return BadRequest(fmt.Sprintf("query parameter %q is not properly percent-encoded", key),
				FieldError{Field: field, Message: "is not properly percent-encoded"})
		}
		if msg := textProblem(value); msg != "" {
			return BadRequest(fmt.Sprintf("query parameter %q %s", key, msg), FieldError{Field: field, Message: msg})
		}
	}
	return nil
}

// checkPathText checks the decoded path. A bad segment that a wildcard of
// pattern captures is named after the wildcard ("id"); any other is named
// by its position.
func checkPathText(path, pattern string) *Problem {
	if textProblem(path) == "" {
		return nil
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var pat []string
	if _, p, ok := strings.Cut(pattern, "/"); ok || strings.HasPrefix(pattern, "/") {
		pat = strings.Split(p, "/")
	}
	for i, seg := range segs {
		msg := textProblem(seg)
		if msg == "" {
			continue
		}
		name := ""
		if i < len(pat) {
			name = wildcardName(pat[i])
		} else if len(pat) > 0 && strings.HasSuffix(pat[len(pat)-1], "...}") {
			name = wildcardName(pat[len(pat)-1])
		}
		if name != "" {
			return BadRequest(fmt.Sprintf("path parameter %q %s", name, msg), FieldError{Field: name, Message: msg})
		}
		return BadRequest(fmt.Sprintf("path segment #%d %s", i+1, msg),
			FieldError{Field: "path", Message: fmt.Sprintf("segment #%d %s", i+1, msg)})
	}
	// Not reached: a path with a bad rune has a bad segment.
	return BadRequest("the path is not valid UTF-8", FieldError{Field: "path", Message: "is not valid UTF-8"})
}

// wildcardName returns "id" for a pattern segment "{id}" or "{id...}".
func wildcardName(seg string) string {
	if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
		return ""
	}
	name := strings.TrimSuffix(seg[1:len(seg)-1], "...")
	if name == "$" {
		return ""
	}
	return name
}

// checkHeaderText checks every header value: net/http already refuses
// control characters in headers, but lets bytes that are not UTF-8 through.
func checkHeaderText(h http.Header) *Problem {
	for name, values := range h {
		for _, v := range values {
			if msg := textProblem(v); msg != "" {
				if textProblem(name) != "" {
					name = "header"
				}
				return BadRequest(fmt.Sprintf("header %s %s", name, msg), FieldError{Field: name, Message: msg})
			}
		}
	}
	return nil
}

// checkJSONText refuses a (syntactically valid) JSON body that encoding/json
// would have decoded by replacing text with U+FFFD or that carries NUL: raw
// bytes that are not UTF-8, an unpaired UTF-16 surrogate escape (\ud800),
// and the escape \u0000. The problem gives the byte offset and, where it
// can, the JSON path of the member at fault.
func checkJSONText(body []byte) *Problem {
	off, msg := -1, ""
	if !utf8.Valid(body) {
		off, msg = invalidUTF8Offset(body), "is not valid UTF-8"
	}
	if eoff, emsg := badEscape(body); eoff >= 0 && (off < 0 || eoff < off) {
		off, msg = eoff, emsg
	}
	if off < 0 {
		return nil
	}
	path, isKey := jsonPathAt(body, off)
	detail := fmt.Sprintf("request body at byte offset %d: a string %s", off, msg)
	switch {
	case isKey && path == "":
		return BadRequest(detail, FieldError{Field: "body", Message: "has a member name that " + msg})
	case isKey:
		return BadRequest(detail, FieldError{Field: path, Message: "has a member name that " + msg})
	case path == "":
		return BadRequest(detail)
	}
	return BadRequest(fmt.Sprintf("field %q %s (byte offset %d)", path, msg, off), FieldError{Field: path, Message: msg})
}

// invalidUTF8Offset returns the offset of the first byte that does not
// start a valid UTF-8 sequence.
func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// badEscape finds the first \u0000 escape or unpaired surrogate escape in
// a syntactically valid JSON text. Backslashes occur only inside strings
// there, and each starts an escape, so no string tracking is needed.
func badEscape(b []byte) (int, string) {
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			return -1, ""
		}
		i += j
		if i+1 >= len(b) || b[i+1] != 'u' {
			i++ // skip the escaped character
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			return -1, "" // cannot happen in valid JSON
		}
		switch {
		case r == 0:
			return i, "contains a NUL character (\\u0000)"
		case r >= 0xDC00 && r <= 0xDFFF:
			return i, "contains an unpaired UTF-16 surrogate escape"
		case r >= 0xD800 && r <= 0xDBFF:
			if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return i, "contains an unpaired UTF-16 surrogate escape"
		}
		i += 5
	}
	return -1, ""
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

// jsonPathAt returns the JSON path ("address.city", "contacts[1].value") of
// the string token that contains byte offset off of a valid JSON text, and
// whether that token is a member name (then the path is of its object).
func jsonPathAt(body []byte, off int) (string, bool) {
	type frame struct {
		obj       bool
		key       string
		idx       int
		expectKey bool
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.obj {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.idx)
			}
		}
		return b.String()
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		if top.obj {
			top.expectKey = true
		} else {
			top.idx++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		past := dec.InputOffset() > int64(off)
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; top.obj && top.expectKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					valueDone()
					continue
				}
				if past {
					// The path of the object, without the bad key.
					top.key = ""
					p := strings.TrimSuffix(path(), ".")
					return p, true
				}
				top.key, _ = tok.(string)
				top.expectKey = false
				continue
			}
		}
		switch d, _ := tok.(json.Delim); d {
		case '{', '[':
			stack = append(stack, &frame{obj: d == '{', expectKey: d == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			if past {
				return path(), false
			}
			valueDone()
		}
	}
}
