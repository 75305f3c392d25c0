package platform

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Main is the whole main of a service binary: configuration from the
// environment, the service's constructor, run until SIGINT or SIGTERM.
func Main(service, defaultAddr string, build func(context.Context, Options) (*Runtime, error)) {
	log := NewLogger(os.Getenv("LOG_LEVEL"), os.Getenv("LOG_FORMAT"))
	if err := run(service, defaultAddr, build, log); err != nil {
		log.Error("exit", "service", service, "err", err)
		os.Exit(1)
	}
}

func run(service, defaultAddr string, build func(context.Context, Options) (*Runtime, error), log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := LoadConfig(service, defaultAddr, nil)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	rt, err := build(ctx, Options{Config: cfg, Log: log})
	if err != nil {
		return err
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
