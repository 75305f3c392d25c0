package validation_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation"
)

func TestList(t *testing.T) {
	t.Parallel()
	var l validation.List
	require.NoError(t, l.Err())
	l.Add("a", "is required")
	require.NoError(t, l.Merge(nil))
	require.NoError(t, l.Merge(validation.Field("b.c", "is bad")))
	other := errors.New("boom")
	require.Same(t, other, l.Merge(other))
	require.NoError(t, l.Merge(fmt.Errorf("wrapped: %w", validation.Field("d", "x"))))
	require.Equal(t, 3, l.Len())

	err := l.Err()
	var ve *validation.Error
	require.ErrorAs(t, err, &ve)
	require.Equal(t, []validation.FieldError{{"a", "is required"}, {"b.c", "is bad"}, {"d", "x"}}, ve.Fields)
	require.True(t, ve.Has("b.c"))
	require.False(t, ve.Has("b"))
	require.Equal(t, "invalid input: a: is required; b.c: is bad; d: x", err.Error())

	// Err returns a snapshot.
	l.Add("e", "late")
	require.Len(t, ve.Fields, 3)
}

func TestText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		required  bool
		multiline bool
		want, msg string
	}{
		{"trimmed", "  王 小明 ", true, false, "王 小明", ""},
		{"optional empty", " ", false, false, "", ""},
		{"required empty", " ", true, false, "", "is required"},
		{"exactly the limit in runes", strings.Repeat("明", 5), true, false, strings.Repeat("明", 5), ""},
		{"too long", strings.Repeat("明", 6), true, false, strings.Repeat("明", 6), "is longer than 5 characters"},
		{"control", "a\x00b", true, false, "a\x00b", "contains control characters"},
		{"newline in single line", "a\nb", true, false, "a\nb", "contains control characters"},
		{"newline in multiline", "a\r\n\tb", true, true, "a\r\n\tb", ""},
		{"bell in multiline", "a\x07b", true, true, "a\x07b", "contains control characters"},
		{"invalid utf-8", "a\xffb", true, false, "a\xffb", "is not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, msg := validation.Text(tc.in, tc.required, 5, tc.multiline)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.msg, msg)
		})
	}
}
