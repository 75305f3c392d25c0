package service

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := LoadConfig(env(nil))
	require.NoError(t, err)
	require.Equal(t, "CNY", c.Currency)
	c, err = LoadConfig(env(map[string]string{"CLINIC_CURRENCY": "HKD"}))
	require.NoError(t, err)
	require.Equal(t, "HKD", c.Currency)
	c, err = LoadConfig(env(map[string]string{"CLINIC_CURRENCY": "HKD", "BILLING_CURRENCY": "USD"}))
	require.NoError(t, err)
	require.Equal(t, "USD", c.Currency)
	for _, bad := range []string{"cny", "YUAN", "¥"} {
		_, err := LoadConfig(env(map[string]string{"BILLING_CURRENCY": bad}))
		require.Error(t, err, bad)
	}
}
