package channels

import (
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestFromConfigBuildsTheConfiguredChannels(t *testing.T) {
	t.Parallel()
	chans, err := FromConfig(envOf(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"log"}, slices.Sorted(maps.Keys(chans)), "the log channel always")

	chans, err = FromConfig(envOf(map[string]string{
		"FOLLOWUP_SMTP_ADDR": "smtp.example.test:587", "FOLLOWUP_SMTP_FROM": "Clinic <noreply@clinic.test>",
		"FOLLOWUP_SMTP_USERNAME": "u", "FOLLOWUP_SMTP_PASSWORD": "p", "FOLLOWUP_SMTP_MAX_CONNS": "8",
		"FOLLOWUP_SMS_URL": "https://sms.example.test/send", "FOLLOWUP_SMS_TOKEN": "t",
		"FOLLOWUP_WEBHOOK_URL": "https://hooks.example.test/in", "FOLLOWUP_WEBHOOK_SECRET": "s",
	}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = CloseAll(chans) })
	require.Equal(t, []string{"email", "log", "sms", "webhook"}, slices.Sorted(maps.Keys(chans)))
	// Which channels the engine may retry after an outcome in doubt (see doc.go).
	idempotent := map[string]bool{}
	for name, c := range chans {
		require.Equal(t, name, c.Name())
		idempotent[name] = c.Idempotent()
	}
	require.Equal(t, map[string]bool{"email": true, "log": true, "sms": false, "webhook": true}, idempotent)
	require.Equal(t, 8, chans["email"].(*SMTP).cfg.MaxConns)
}

func TestLoadConfigDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(envOf(map[string]string{"FOLLOWUP_SMTP_ADDR": "127.0.0.1:2525", "FOLLOWUP_SMTP_FROM": "a@b.test",
		"FOLLOWUP_SMTP_SKIP_STARTTLS": "true", "FOLLOWUP_SMTP_TIMEOUT": "5s"}))
	require.NoError(t, err)
	require.Equal(t, &SMTPConfig{Addr: "127.0.0.1:2525", From: "a@b.test", SkipStartTLS: true, Helo: DefaultSMTPHelo,
		MaxConns: DefaultSMTPMaxConns, Timeout: 5 * time.Second, IdleTimeout: DefaultSMTPIdleTimeout,
		MessageIDDomain: DefaultMessageIDDomain}, cfg.SMTP)

	for name, env := range map[string]map[string]string{
		"smtp without from":           {"FOLLOWUP_SMTP_ADDR": "h:25"},
		"smtp address without port":   {"FOLLOWUP_SMTP_ADDR": "h", "FOLLOWUP_SMTP_FROM": "a@b.test"},
		"user without password":       {"FOLLOWUP_SMTP_ADDR": "h:25", "FOLLOWUP_SMTP_FROM": "a@b.test", "FOLLOWUP_SMTP_USERNAME": "u"},
		"password in clear to remote": {"FOLLOWUP_SMTP_ADDR": "h:25", "FOLLOWUP_SMTP_FROM": "a@b.test", "FOLLOWUP_SMTP_USERNAME": "u", "FOLLOWUP_SMTP_PASSWORD": "p", "FOLLOWUP_SMTP_SKIP_STARTTLS": "true"},
		"bad max conns":               {"FOLLOWUP_SMTP_ADDR": "h:25", "FOLLOWUP_SMTP_FROM": "a@b.test", "FOLLOWUP_SMTP_MAX_CONNS": "0"},
		"bad timeout":                 {"FOLLOWUP_SMTP_ADDR": "h:25", "FOLLOWUP_SMTP_FROM": "a@b.test", "FOLLOWUP_SMTP_TIMEOUT": "soon"},
		"sms without token":           {"FOLLOWUP_SMS_URL": "https://sms.test/x"},
		"sms over http to a remote":   {"FOLLOWUP_SMS_URL": "http://sms.test/x", "FOLLOWUP_SMS_TOKEN": "t"},
		"webhook without secret":      {"FOLLOWUP_WEBHOOK_URL": "https://hooks.test/x"},
		"webhook not a url":           {"FOLLOWUP_WEBHOOK_URL": "hooks", "FOLLOWUP_WEBHOOK_SECRET": "s"},
	} {
		_, err := LoadConfig(envOf(env))
		require.Error(t, err, name)
	}
}

func TestConfigLogValueMasksSecrets(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(envOf(map[string]string{
		"FOLLOWUP_SMTP_ADDR": "smtp.example.test:587", "FOLLOWUP_SMTP_FROM": "a@b.test",
		"FOLLOWUP_SMTP_USERNAME": "user-1", "FOLLOWUP_SMTP_PASSWORD": "pw-secret-1",
		"FOLLOWUP_SMS_URL": "https://sms.example.test/send?key=q-secret-1", "FOLLOWUP_SMS_TOKEN": "tok-secret-1",
		"FOLLOWUP_WEBHOOK_URL": "https://hooks.example.test/in", "FOLLOWUP_WEBHOOK_SECRET": "wh-secret-1",
	}))
	require.NoError(t, err)
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("settings", "channels", cfg)
	require.Contains(t, b.String(), "smtp.example.test:587")
	require.NotContains(t, b.String(), "secret")
}
