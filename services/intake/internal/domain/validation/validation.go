// Package validation forwards to the platform's pkg/validation, where the
// helpers moved so that every service's domain can use them. It stays only so
// that intake's domain packages keep compiling unchanged; import
// github.com/clinicops/clinicops/pkg/validation in new code.
package validation

import "github.com/clinicops/clinicops/pkg/validation"

// FieldError is validation.FieldError.
type FieldError = validation.FieldError

// Error is validation.Error.
type Error = validation.Error

// List is validation.List.
type List = validation.List

// Field is validation.Field.
func Field(field, message string) error { return validation.Field(field, message) }

// Text is validation.Text.
func Text(s string, required bool, maxRunes int, multiline bool) (string, string) {
	return validation.Text(s, required, maxRunes, multiline)
}

// Length is validation.Length.
func Length(s string) int { return validation.Length(s) }

// TooLong is validation.TooLong.
func TooLong(s string, maxRunes int) bool { return validation.TooLong(s, maxRunes) }
