// Package platform is the runtime one clinicops service runs in: its
// database (migrated at start), its NATS connection and streams, its outbox
// relay, its event processor and its HTTP server with authentication and
// health. A service's own New builds its routes and handlers on a Runtime;
// the service binary, `clinicops dev` and the component tests all use it.
package platform

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is a service's configuration, read from the environment.
type Config struct {
	// Service is the service name: intake, scheduling, billing or followup.
	Service string
	// HTTPAddr is where the HTTP API listens (<SERVICE>_HTTP_ADDR or HTTP_ADDR).
	HTTPAddr string
	// DatabaseURL is the service's own database (<SERVICE>_DATABASE_URL or
	// DATABASE_URL). Secret: never logged unmasked.
	DatabaseURL string
	// NATSURL is the NATS server (NATS_URL, default nats://127.0.0.1:4222).
	NATSURL string
	// AuthTokens lists accepted bearer tokens as role:sha256hex pairs,
	// comma-separated (CLINICOPS_AUTH_TOKENS). Only hashes are configured.
	AuthTokens string
	// StreamReplicas is the JetStream replica count (NATS_STREAM_REPLICAS, default 1).
	StreamReplicas int
	// ShutdownTimeout bounds graceful shutdown (SHUTDOWN_TIMEOUT, default 20s).
	ShutdownTimeout time.Duration
	// TimeZone is the clinic's zone (CLINIC_TIME_ZONE, default Asia/Shanghai).
	TimeZone string
}

// LoadConfig reads a service's configuration from getenv (os.Getenv when nil).
func LoadConfig(service, defaultAddr string, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	prefix := strings.ToUpper(service) + "_"
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := strings.TrimSpace(getenv(k)); v != "" {
				return v
			}
		}
		return ""
	}
	cfg := Config{
		Service:     service,
		HTTPAddr:    first(prefix+"HTTP_ADDR", "HTTP_ADDR"),
		DatabaseURL: first(prefix+"DATABASE_URL", "DATABASE_URL"),
		NATSURL:     first("NATS_URL"),
		AuthTokens:  first(prefix+"AUTH_TOKENS", "CLINICOPS_AUTH_TOKENS"),
		TimeZone:    first("CLINIC_TIME_ZONE"),
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = defaultAddr
	}
	if cfg.NATSURL == "" {
		cfg.NATSURL = "nats://127.0.0.1:4222"
	}
	if cfg.DatabaseURL == "" {
		return cfg, fmt.Errorf("%sDATABASE_URL is required", prefix)
	}
	if v := first("NATS_STREAM_REPLICAS"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &cfg.StreamReplicas); err != nil || cfg.StreamReplicas < 1 {
			return cfg, fmt.Errorf("NATS_STREAM_REPLICAS: want a positive integer")
		}
	}
	if v := first("SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("SHUTDOWN_TIMEOUT: %w", err)
		}
		cfg.ShutdownTimeout = d
	}
	return cfg, cfg.withDefaults().validate()
}

func (c Config) withDefaults() Config {
	if c.StreamReplicas == 0 {
		c.StreamReplicas = 1
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 20 * time.Second
	}
	if c.TimeZone == "" {
		c.TimeZone = "Asia/Shanghai"
	}
	return c
}

func (c Config) validate() error {
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		return fmt.Errorf("CLINIC_TIME_ZONE %q: %w", c.TimeZone, err)
	}
	return nil
}

// LogValue masks secrets so the config can be logged at start.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("service", c.Service),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("database_url", MaskURL(c.DatabaseURL)),
		slog.String("nats_url", MaskURL(c.NATSURL)),
		slog.Int("auth_tokens", strings.Count(c.AuthTokens, ":")),
		slog.String("time_zone", c.TimeZone),
	)
}

// MaskURL hides a URL's password.
func MaskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
