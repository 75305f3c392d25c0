package service

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMaxScreeningAge(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string) string { return func(string) string { return v } }
	d, err := maxScreeningAge(env(""))
	require.NoError(t, err)
	require.Equal(t, 90*24*time.Hour, d)
	d, err = maxScreeningAge(env("30"))
	require.NoError(t, err)
	require.Equal(t, 30*24*time.Hour, d)
	for _, bad := range []string{"0", "-1", "abc", "4000", "1.5"} {
		_, err := maxScreeningAge(env(bad))
		require.Error(t, err, bad)
	}
}
