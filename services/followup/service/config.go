package service

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
)

// loadCheckInDays reads the check-in settings into c.
func loadCheckInDays(getenv func(string) string, c *Config) error {
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
