package platform

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckConsumes(t *testing.T) {
	t.Parallel()
	require.NoError(t, checkConsumes([]string{"b", "a"}, []string{"a", "b", "a"}))
	require.NoError(t, checkConsumes(nil, nil))
	require.ErrorContains(t, checkConsumes([]string{"a"}, []string{"a", "b"}), "registers handlers for [a b]")
	require.Error(t, checkConsumes([]string{"a", "b"}, []string{"a"}))
}

func TestStreamsOf(t *testing.T) {
	t.Parallel()
	got, err := streamsOf("billing", []string{"clinicops.intake.v1.PatientRegistered", "clinicops.scheduling.v1.X", "clinicops.intake.v1.Y"})
	require.NoError(t, err)
	require.Equal(t, []string{"billing", "intake", "scheduling"}, got)
	_, err = streamsOf("billing", []string{"other.intake.v1.X"})
	require.Error(t, err)
}

func TestServiceNeedsDefine(t *testing.T) {
	t.Parallel()
	_, err := Service{Name: "x"}.New(t.Context(), Options{})
	require.ErrorContains(t, err, "platform.Define")
}

func TestLoadConfigNeedsDatabase(t *testing.T) {
	t.Parallel()
	env := map[string]string{}
	_, err := LoadConfig("intake", ":8081", func(k string) string { return env[k] })
	require.ErrorContains(t, err, "INTAKE_DATABASE_URL")
	env["INTAKE_DATABASE_URL"] = "postgres://u:secret@h/db"
	cfg, err := LoadConfig("intake", ":8081", func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, ":8081", cfg.HTTPAddr)
	require.NotContains(t, cfg.LogValue().String(), "secret")
}
