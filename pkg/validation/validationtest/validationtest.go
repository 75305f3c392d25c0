// Package validationtest holds the assertion the domain's tests share.
package validationtest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation"
)

// RequireFields asserts that err is a *validation.Error naming exactly
// fields, in order.
func RequireFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	_ = RequireValidation(t, err, fields...)
}

// RequireValidation is RequireFields returning the error, for tests that
// look at the messages too.
func RequireValidation(t testing.TB, err error, fields ...string) *validation.Error {
	t.Helper()
	var ve *validation.Error
	require.True(t, errors.As(err, &ve), "want a validation error, got %v", err)
	got := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		got[i] = f.Field
	}
	require.Equal(t, fields, got)
	return ve
}
