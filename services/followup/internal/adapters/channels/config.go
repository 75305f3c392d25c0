package channels

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// Defaults of the settings (see the package documentation for the names).
const (
	DefaultSMTPMaxConns       = 4
	DefaultSMTPTimeout        = 30 * time.Second
	DefaultSMTPIdleTimeout    = 30 * time.Second
	DefaultSMTPHelo           = "localhost"
	DefaultMessageIDDomain    = "clinicops.followup"
	DefaultHTTPTimeout        = 10 * time.Second
	DefaultSignatureTolerance = 5 * time.Minute
)

// Config holds the settings of every channel; a nil one is not configured.
type Config struct {
	SMTP    *SMTPConfig
	SMS     *SMSConfig
	Webhook *WebhookConfig
}

// LogValue lists the settings with the secrets masked.
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	if c.SMTP != nil {
		attrs = append(attrs, slog.Group("smtp", slog.String("addr", c.SMTP.Addr),
			slog.Bool("auth", c.SMTP.Username != ""), slog.Bool("skip_starttls", c.SMTP.SkipStartTLS),
			slog.Int("max_conns", c.SMTP.MaxConns), slog.Duration("timeout", c.SMTP.Timeout)))
	}
	if c.SMS != nil {
		attrs = append(attrs, slog.Group("sms", slog.String("url", redactURL(c.SMS.URL)),
			slog.Duration("timeout", c.SMS.Timeout)))
	}
	if c.Webhook != nil {
		attrs = append(attrs, slog.Group("webhook", slog.String("url", redactURL(c.Webhook.URL)),
			slog.Duration("timeout", c.Webhook.Timeout)))
	}
	return slog.GroupValue(attrs...)
}

// LoadConfig reads the channels' settings through getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var c Config
	var err error
	if env("FOLLOWUP_SMTP_ADDR") != "" {
		if c.SMTP, err = loadSMTP(env); err != nil {
			return c, err
		}
	}
	if u := env("FOLLOWUP_SMS_URL"); u != "" {
		sms := &SMSConfig{URL: u, Token: env("FOLLOWUP_SMS_TOKEN"), Timeout: DefaultHTTPTimeout}
		if err := checkEndpoint("FOLLOWUP_SMS_URL", u); err != nil {
			return c, err
		}
		if sms.Token == "" {
			return c, errors.New("FOLLOWUP_SMS_TOKEN is required with FOLLOWUP_SMS_URL")
		}
		if err := duration(env, "FOLLOWUP_SMS_TIMEOUT", &sms.Timeout); err != nil {
			return c, err
		}
		c.SMS = sms
	}
	if u := env("FOLLOWUP_WEBHOOK_URL"); u != "" {
		wh := &WebhookConfig{URL: u, Secret: env("FOLLOWUP_WEBHOOK_SECRET"), Timeout: DefaultHTTPTimeout}
		if err := checkEndpoint("FOLLOWUP_WEBHOOK_URL", u); err != nil {
			return c, err
		}
		if wh.Secret == "" {
			return c, errors.New("FOLLOWUP_WEBHOOK_SECRET is required with FOLLOWUP_WEBHOOK_URL")
		}
		if err := duration(env, "FOLLOWUP_WEBHOOK_TIMEOUT", &wh.Timeout); err != nil {
			return c, err
		}
		c.Webhook = wh
	}
	return c, nil
}

func loadSMTP(env func(string) string) (*SMTPConfig, error) {
	c := &SMTPConfig{
		Addr: env("FOLLOWUP_SMTP_ADDR"), From: env("FOLLOWUP_SMTP_FROM"),
		Username: env("FOLLOWUP_SMTP_USERNAME"), Password: env("FOLLOWUP_SMTP_PASSWORD"),
		Helo: DefaultSMTPHelo, MaxConns: DefaultSMTPMaxConns, Timeout: DefaultSMTPTimeout,
		IdleTimeout: DefaultSMTPIdleTimeout, MessageIDDomain: DefaultMessageIDDomain,
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("FOLLOWUP_SMTP_ADDR %q: want host:port", c.Addr)
	}
	if c.From == "" {
		return nil, errors.New("FOLLOWUP_SMTP_FROM is required with FOLLOWUP_SMTP_ADDR")
	}
	if (c.Username == "") != (c.Password == "") {
		return nil, errors.New("FOLLOWUP_SMTP_USERNAME and FOLLOWUP_SMTP_PASSWORD go together")
	}
	if v := env("FOLLOWUP_SMTP_SKIP_STARTTLS"); v != "" {
		if c.SkipStartTLS, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("FOLLOWUP_SMTP_SKIP_STARTTLS %q: want true or false", v)
		}
	}
	// A password sent without TLS to another machine is a password given away.
	if c.Username != "" && c.SkipStartTLS && !isLoopback(host) {
		return nil, errors.New("FOLLOWUP_SMTP_SKIP_STARTTLS with credentials is allowed only for a loopback server")
	}
	if v := env("FOLLOWUP_SMTP_HELO"); v != "" {
		c.Helo = v
	}
	if v := env("FOLLOWUP_SMTP_MESSAGE_ID_DOMAIN"); v != "" {
		c.MessageIDDomain = v
	}
	if v := env("FOLLOWUP_SMTP_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, fmt.Errorf("FOLLOWUP_SMTP_MAX_CONNS %q: want 1 to 100", v)
		}
		c.MaxConns = n
	}
	if err := duration(env, "FOLLOWUP_SMTP_TIMEOUT", &c.Timeout); err != nil {
		return nil, err
	}
	if err := duration(env, "FOLLOWUP_SMTP_IDLE_TIMEOUT", &c.IdleTimeout); err != nil {
		return nil, err
	}
	return c, nil
}

func duration(env func(string) string, name string, into *time.Duration) error {
	v := env(name)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
		return fmt.Errorf("%s %q: want a duration from 100ms to 10m", name, v)
	}
	*into = d
	return nil
}

// checkEndpoint wants https, or http to this machine: the requests carry
// personal data and a token or signature.
func checkEndpoint(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s: not an absolute URL", name)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	default:
		return fmt.Errorf("%s: want https (http only to a loopback address)", name)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL keeps scheme, host and path: a query or user info may hold a token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Build makes the configured channels, keyed by Name, and the log channel
// (writing to logger) always.
func Build(cfg Config, logger *slog.Logger) (map[string]app.Channel, error) {
	chans := map[string]app.Channel{}
	chans[LogName] = NewLog(logger)
	if cfg.SMTP != nil {
		c, err := NewSMTP(*cfg.SMTP)
		if err != nil {
			return nil, err
		}
		chans[c.Name()] = c
	}
	if cfg.SMS != nil {
		c, err := NewSMS(*cfg.SMS)
		if err != nil {
			_ = CloseAll(chans)
			return nil, err
		}
		chans[c.Name()] = c
	}
	if cfg.Webhook != nil {
		c, err := NewWebhook(*cfg.Webhook)
		if err != nil {
			_ = CloseAll(chans)
			return nil, err
		}
		chans[c.Name()] = c
	}
	return chans, nil
}

// FromConfig reads the settings through getenv and builds the configured
// channels; the log channel writes to slog.Default().
func FromConfig(getenv func(string) string) (map[string]app.Channel, error) {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return nil, fmt.Errorf("channel settings: %w", err)
	}
	return Build(cfg, slog.Default())
}

// CloseAll closes the channels that hold connections (SMTP keeps some open).
func CloseAll(chans map[string]app.Channel) error {
	var errs []error
	for _, c := range chans {
		if cl, ok := c.(io.Closer); ok {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}
