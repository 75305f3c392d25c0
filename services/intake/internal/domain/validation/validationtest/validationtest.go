// Package validationtest forwards to pkg/validation/validationtest, where the
// assertions moved; import that in new code.
package validationtest

import (
	"testing"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/pkg/validation/validationtest"
)

// RequireFields is validationtest.RequireFields.
func RequireFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	validationtest.RequireFields(t, err, fields...)
}

// RequireValidation is validationtest.RequireValidation.
func RequireValidation(t testing.TB, err error, fields ...string) *validation.Error {
	t.Helper()
	return validationtest.RequireValidation(t, err, fields...)
}
