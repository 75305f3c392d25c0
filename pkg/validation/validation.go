// Package validation holds the field-level error the domain packages of every
// service return for bad input, and small helpers to build it. Pure Go, no
// I/O: domain packages import it, and ports map its *Error to a 422 problem
// (httpx.ValidationProblem).
//
// Length limits count characters (Unicode code points, what JSON Schema's
// maxLength counts), never bytes: use Length, Text or CheckText, so that a
// limit checked when a value is stored and one checked when it is searched
// for agree.
//
// Field names are JSON paths of the request ("national_id.value",
// "answers.q_pregnant", "address.country"). Messages state the rule that was
// broken and never repeat the input value: they end up in responses and logs,
// and patient data must not leak into logs.
package validation

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FieldError names the input field a rule rejected.
type FieldError struct {
	Field   string
	Message string
}

// Error lists every rejected field of one input.
type Error struct{ Fields []FieldError }

func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Has reports whether field was rejected.
func (e *Error) Has(field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Field returns an *Error rejecting one field.
func Field(field, message string) error {
	return &Error{Fields: []FieldError{{Field: field, Message: message}}}
}

// List collects field errors; the zero value is ready to use.
type List struct{ fields []FieldError }

// Add rejects field with message.
func (l *List) Add(field, message string) {
	l.fields = append(l.fields, FieldError{Field: field, Message: message})
}

// Merge adds the fields of an *Error. It returns err unchanged when err is
// some other error (a bug the caller must pass on) and nil otherwise.
func (l *List) Merge(err error) error {
	if err == nil {
		return nil
	}
	var ve *Error
	if errors.As(err, &ve) {
		l.fields = append(l.fields, ve.Fields...)
		return nil
	}
	return err
}

// Len is the number of rejected fields so far.
func (l *List) Len() int { return len(l.fields) }

// Err returns an *Error with the collected fields, or nil when there are none.
func (l *List) Err() error {
	if len(l.fields) == 0 {
		return nil
	}
	return &Error{Fields: append([]FieldError(nil), l.fields...)}
}

// Length is the length every limit counts: characters (runes), not bytes.
// "王" is one character and three bytes.
func Length(s string) int { return utf8.RuneCountInString(s) }

// TooLong reports whether s has more than maxRunes characters.
func TooLong(s string, maxRunes int) bool { return Length(s) > maxRunes }

// Text trims s and checks it as free text of at most maxRunes characters: valid
// UTF-8, no control characters except, when multiline, newlines and tabs. It
// returns the trimmed text and a message, which is empty when s is fine.
func Text(s string, required bool, maxRunes int, multiline bool) (string, string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		if required {
			return s, "is required"
		}
		return s, ""
	case !utf8.ValidString(s):
		return s, "is not valid UTF-8"
	case TooLong(s, maxRunes):
		return s, "is longer than " + strconv.Itoa(maxRunes) + " characters"
	case strings.IndexFunc(s, func(r rune) bool {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			return false
		}
		return unicode.IsControl(r)
	}) >= 0:
		return s, "contains control characters"
	}
	return s, ""
}

// CheckText is Text that records its message on field in l.
func (l *List) CheckText(field string, s string, required bool, maxRunes int, multiline bool) string {
	s, msg := Text(s, required, maxRunes, multiline)
	if msg != "" {
		l.Add(field, msg)
	}
	return s
}
