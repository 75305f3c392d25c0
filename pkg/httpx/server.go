package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServerConfig configures the HTTP server. Zero fields take the defaults.
type ServerConfig struct {
	// Addr is the TCP address to listen on; default ":8080". Use
	// "127.0.0.1:0" in tests and learn the port from the listener.
	Addr string
	// ReadTimeout bounds reading a whole request, body included; default 15s.
	ReadTimeout time.Duration
	// ReadHeaderTimeout bounds reading the request headers (slowloris);
	// default 5s.
	ReadHeaderTimeout time.Duration
	// WriteTimeout bounds handling a request and writing its response;
	// default 30s.
	WriteTimeout time.Duration
	// IdleTimeout bounds an idle keep-alive connection; default 120s.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown that lets in-flight
	// requests finish; default 20s, inside Kubernetes' 30s grace period.
	ShutdownTimeout time.Duration
}

// Server defaults.
const (
	DefaultAddr              = ":8080"
	DefaultReadTimeout       = 15 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 20 * time.Second
)

// WithDefaults returns cfg with zero fields set to their defaults.
func (cfg ServerConfig) WithDefaults() ServerConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	def(&cfg.ReadTimeout, DefaultReadTimeout)
	def(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	def(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	return cfg
}

// Serve listens on cfg.Addr and serves handler until ctx is done, then shuts
// down gracefully (see ServeListener).
func Serve(ctx context.Context, cfg ServerConfig, handler http.Handler, log *slog.Logger) error {
	ln, err := Listen(ctx, cfg)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, cfg, handler, log)
}

// Listen opens the TCP listener for cfg.Addr. Binding port 0 and reading
// ln.Addr() lets tests and the dev binary learn the port before serving.
func Listen(ctx context.Context, cfg ServerConfig) (net.Listener, error) {
	cfg = cfg.WithDefaults()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	return ln, nil
}

// ServeListener serves handler on ln until ctx is done, then stops accepting
// connections and waits up to cfg.ShutdownTimeout for in-flight requests. It
// returns nil after a clean shutdown, an error if serving fails or in-flight
// requests outlast the timeout (their connections are then closed). ln is
// closed on return.
func ServeListener(ctx context.Context, ln net.Listener, cfg ServerConfig, handler http.Handler, log *slog.Logger) error {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.Default()
	}
	srv := &http.Server{
		Handler:           handler,
		ReadTimeout:       cfg.ReadTimeout,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests keep ctx's values but not its cancellation: shutdown is
		// graceful, in-flight handlers are not cut off when ctx ends.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	addr := ln.Addr().String()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.InfoContext(ctx, "http server listening", slog.String("addr", addr))

	select {
	case err := <-errc:
		return fmt.Errorf("serve http on %s: %w", addr, err)
	case <-ctx.Done():
	}

	log.InfoContext(ctx, "http server shutting down", slog.String("addr", addr))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		closeErr := srv.Close()
		<-errc //nolint:errcheck // Serve returns ErrServerClosed after Close
		return errors.Join(fmt.Errorf("shut down http server on %s: %w", addr, err), closeErr)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http on %s: %w", addr, err)
	}
	log.InfoContext(ctx, "http server stopped", slog.String("addr", addr))
	return nil
}
