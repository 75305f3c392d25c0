package platform

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Main is the whole main of a service binary: configuration from the
// environment, the service's description, run until SIGINT or SIGTERM.
// <NAME>_SEED_REFERENCE_DATA=true installs the service's demo reference
// data where the clinic has none.
func Main(svc Service) {
	log := NewLogger(os.Getenv("LOG_LEVEL"), os.Getenv("LOG_FORMAT"))
	if err := run(svc, os.Getenv, log); err != nil {
		log.Error("exit", "service", svc.Name, "err", err)
		os.Exit(1)
	}
}

func run(svc Service, getenv func(string) string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := LoadConfig(svc.Name, svc.DefaultAddr, getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	rt, err := svc.New(ctx, Options{Config: cfg, Getenv: getenv, Log: log})
	if err != nil {
		return err
	}
	if getenv(strings.ToUpper(svc.Name)+"_SEED_REFERENCE_DATA") == "true" {
		if err := svc.Seed(ctx, rt); err != nil {
			rt.Abandon()
			return err
		}
	}
	return rt.Run(ctx)
}

// NewLogger returns a JSON logger (text when format is "text").
func NewLogger(level, format string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
