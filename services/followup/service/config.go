package service

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// CheckInLinks are the settings of the links patients answer check-ins
// through.
type CheckInLinks struct {
	// Base is what a link's token is appended to, such as
	// https://clinic.example/v1/check-in-links/ (FOLLOWUP_CHECKIN_LINK_BASE;
	// empty: no links are sent, and a check-in's reminder says the nurse
	// will call).
	Base string
	// Signer signs and verifies tokens (FOLLOWUP_CHECKIN_LINK_SECRET, at
	// least 32 bytes; required with Base). Nil without a secret: every
	// link is unknown.
	Signer *checkin.Links
	// TTL: a link works this long after its reminder is due
	// (FOLLOWUP_CHECKIN_LINK_TTL, default 72h).
	TTL time.Duration
}

// URL is the link of check-in id whose reminder is due at due; "" when
// the clinic sends no links.
func (l CheckInLinks) URL(id uuid.UUID, due time.Time) string {
	if l.Base == "" || l.Signer == nil {
		return ""
	}
	return l.Base + l.Signer.Token(id, due.Add(l.TTL))
}

// loadCheckInDays reads the check-in settings into c: the days, the time
// of day of their reminders, and the links.
func loadCheckInDays(getenv func(string) string, c *Config) error {
	var err error
	if c.CheckInAt, err = reminder.ParseTimeOfDay(cmp.Or(strings.TrimSpace(getenv("FOLLOWUP_CHECKIN_REMIND_AT")), "09:00")); err != nil {
		return fmt.Errorf("FOLLOWUP_CHECKIN_REMIND_AT: %w", err)
	}
	if c.Links.TTL, err = time.ParseDuration(cmp.Or(strings.TrimSpace(getenv("FOLLOWUP_CHECKIN_LINK_TTL")), "72h")); err != nil ||
		c.Links.TTL <= 0 {
		return errors.New("FOLLOWUP_CHECKIN_LINK_TTL: want a positive duration such as 72h")
	}
	if secret := getenv("FOLLOWUP_CHECKIN_LINK_SECRET"); secret != "" {
		signer, err := checkin.NewLinks([]byte(secret))
		if err != nil {
			return fmt.Errorf("FOLLOWUP_CHECKIN_LINK_SECRET: %w", err)
		}
		c.Links.Signer = &signer
	}
	if base := strings.TrimSpace(getenv("FOLLOWUP_CHECKIN_LINK_BASE")); base != "" {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("FOLLOWUP_CHECKIN_LINK_BASE %q: want an absolute http(s) URL the token is appended to", base)
		}
		if c.Links.Signer == nil {
			return errors.New("FOLLOWUP_CHECKIN_LINK_BASE needs FOLLOWUP_CHECKIN_LINK_SECRET (at least 32 bytes) to sign the links")
		}
		c.Links.Base = base
	}
	c.CheckInDays = map[string][]int{"": checkin.DefaultDays}
	if v := strings.TrimSpace(getenv("FOLLOWUP_CHECKIN_DAYS")); v != "" {
		days, err := parseDays(v)
		if err != nil {
			return fmt.Errorf("FOLLOWUP_CHECKIN_DAYS %q: %w", v, err)
		}
		c.CheckInDays[""] = days
	}
	if v := strings.TrimSpace(getenv("FOLLOWUP_CHECKIN_DAYS_BY_PROGRAM")); v != "" {
		for _, part := range strings.Split(v, ";") {
			program, list, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || strings.TrimSpace(program) == "" {
				return fmt.Errorf("FOLLOWUP_CHECKIN_DAYS_BY_PROGRAM %q: want program=days;program=days", v)
			}
			days, err := parseDays(list)
			if err != nil {
				return fmt.Errorf("FOLLOWUP_CHECKIN_DAYS_BY_PROGRAM %s: %w", program, err)
			}
			c.CheckInDays[strings.TrimSpace(program)] = days
		}
	}
	return nil
}

// parseDays reads "1,3,7": distinct whole days from 1 to 365, sorted.
func parseDays(s string) ([]int, error) {
	var days []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 365 {
			return nil, fmt.Errorf("want whole days from 1 to 365, separated by commas")
		}
		if !slices.Contains(days, n) {
			days = append(days, n)
		}
	}
	slices.Sort(days)
	return days, nil
}

// checkInAttrs lists the check-in days per program, for LogValue.
func (c Config) checkInAttrs() []slog.Attr {
	attrs := make([]slog.Attr, 0, len(c.CheckInDays))
	for program, days := range c.CheckInDays {
		name := program
		if name == "" {
			name = "default"
		}
		attrs = append(attrs, slog.Any("check_in_days."+name, days))
	}
	return attrs
}
