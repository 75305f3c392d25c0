package platform

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
)

// Options are what a Runtime is built from.
type Options struct {
	Config Config
	// Tokens authenticates requests; nil builds it from Config.AuthTokens.
	Tokens *httpx.TokenStore
	// Getenv reads the service's own settings (Definition.Config); nil
	// means none are set, so every one takes its default.
	Getenv func(string) string
	Log    *slog.Logger
	// Listener, if set, is used instead of listening on Config.HTTPAddr.
	Listener net.Listener
	// Clock is the process's one clock (default clock.System()): the
	// domain, the outbox, the durable jobs and the services read time only
	// from it, so tests and `clinicops dev` control time everywhere at once.
	Clock clock.Clock
	// Jobs tunes the durable job queues of services that use them
	// (Runtime.UseJobs); DB, Log, Clock and Workers are filled in.
	Jobs jobs.Config
	// Processor tunes event handling (Service, DB, JS and Log are filled in).
	Processor messaging.ProcessorConfig
	// Relay tunes the outbox relay (DB, JS, Wake and Log are filled in).
	Relay messaging.RelayConfig
	// Pool limits the database pool.
	Pool pgdb.PoolConfig
}

// Runtime is a running service's infrastructure.
type Runtime struct {
	Config    Config
	DB        *sqlx.DB
	NC        *nats.Conn
	JS        jetstream.JetStream
	Outbox    *messaging.Outbox
	Processor *messaging.Processor
	Relay     *messaging.Relay
	Router    *httpx.Router
	Log       *slog.Logger
	// Clock is the process's clock; Now is its Now method (UTC, with
	// Postgres's microsecond precision).
	Clock    clock.Clock
	Now      func() time.Time
	Location *time.Location

	listener      net.Listener
	background    []func(context.Context) error
	serviceConfig slog.Value
	jobsConfig    jobs.Config
	jobs          *jobs.Client
}

// UseJobs gives the service durable jobs on River in its own database:
// River's migrations are applied, and the queues run with the service and
// stop cleanly with it. Call it once, from Build, after adding the workers;
// insert jobs with the returned client's InsertTx in the transaction of the
// state change that causes them.
//
// defaults are the service's own settings (Queues, JobTimeout,
// RescueStuckJobsAfter); what Options.Jobs sets wins over them.
func (rt *Runtime) UseJobs(ctx context.Context, workers *river.Workers, defaults jobs.Config) (*jobs.Client, error) {
	if rt.jobs != nil {
		return nil, errors.New("UseJobs called twice")
	}
	if err := jobs.Migrate(ctx, rt.DB, rt.Log); err != nil {
		return nil, fmt.Errorf("migrate jobs: %w", err)
	}
	cfg := rt.jobsConfig
	cfg.DB, cfg.Log, cfg.Clock, cfg.Workers = rt.DB, rt.Log, rt.Clock, workers
	if cfg.Queues == nil {
		cfg.Queues = defaults.Queues
	}
	cfg.JobTimeout = cmp.Or(cfg.JobTimeout, defaults.JobTimeout)
	cfg.RescueStuckJobsAfter = cmp.Or(cfg.RescueStuckJobsAfter, defaults.RescueStuckJobsAfter)
	c, err := jobs.New(cfg)
	if err != nil {
		return nil, err
	}
	rt.jobs = c
	rt.Background(c.Run)
	return c, nil
}

func (o Options) getenv() func(string) string {
	if o.Getenv == nil {
		return func(string) string { return "" }
	}
	return o.Getenv
}

func platformMigrations() []pgdb.MigrationSource {
	return []pgdb.MigrationSource{messaging.Migrations}
}

// Background adds a task that runs with the service (e.g. a pruner) and
// stops with it.
func (rt *Runtime) Background(task func(context.Context) error) {
	rt.background = append(rt.background, task)
}

// newRuntime connects, migrates and prepares a service, ensuring the
// streams it owns and consumes; Service.New then builds the service on it.
func newRuntime(ctx context.Context, name string, migrations []pgdb.MigrationSource, consumes []string, opts Options) (rt *Runtime, err error) {
	cfg := opts.Config.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", cfg.Service)
	clk := opts.Clock
	if clk == nil {
		clk = clock.System()
	}
	now := clk.Now
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	tokens := opts.Tokens
	if tokens == nil {
		if tokens, err = httpx.ParseTokenConfig(cfg.AuthTokens); err != nil {
			return nil, fmt.Errorf("auth tokens: %w", err)
		}
	}
	rt = &Runtime{Config: cfg, Log: log, Clock: clk, Now: now, Location: loc, jobsConfig: opts.Jobs}
	defer func() {
		if err != nil {
			rt.close()
		}
	}()

	if rt.DB, err = openWithRetry(ctx, cfg.DatabaseURL, opts.Pool, log); err != nil {
		return nil, err
	}
	sources := append(platformMigrations(), migrations...)
	if err := pgdb.Migrate(ctx, rt.DB, sources...); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", cfg.Service, err)
	}
	rt.NC, err = nats.Connect(cfg.NATSURL, nats.Name("clinicops-"+cfg.Service),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats reconnected") }))
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	if rt.JS, err = jetstream.New(rt.NC); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	streams, err := streamsOf(name, consumes)
	if err != nil {
		return nil, err
	}
	if err := ensureStreamsWithRetry(ctx, rt.JS, cfg.StreamReplicas, streams, log); err != nil {
		return nil, err
	}
	// The outbox wakes this process's relay after each commit that wrote
	// events; the relay's poll picks up rows of replicas that do not lead.
	wake := messaging.NewWake()
	rt.Outbox = messaging.NewOutbox(cfg.Service, now).WakeOnCommit(wake)
	pc := opts.Processor
	pc.Service, pc.DB, pc.JS, pc.Log = cfg.Service, rt.DB, rt.JS, log
	if rt.Processor, err = messaging.NewProcessor(pc); err != nil {
		return nil, err
	}
	rc := opts.Relay
	rc.DB, rc.JS, rc.Wake, rc.Log = rt.DB, rt.JS, wake, log
	rt.Relay = messaging.NewRelay(rc)

	rt.Router = httpx.NewRouter(tokens, log)
	rt.Router.Health(map[string]httpx.Check{
		"postgres": func(ctx context.Context) error { return rt.DB.PingContext(ctx) },
		"nats": func(context.Context) error {
			if !rt.NC.IsConnected() {
				return errors.New("not connected")
			}
			return nil
		},
	})
	if opts.Listener != nil {
		rt.listener = opts.Listener
	} else if rt.listener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	return rt, nil
}

// Calendar is the process clock read in the clinic's time zone.
func (rt *Runtime) Calendar() clock.Calendar {
	return clock.Calendar{Clock: rt.Clock, Location: rt.Location}
}

// Addr is where the HTTP API listens.
func (rt *Runtime) Addr() string { return rt.listener.Addr().String() }

// Run serves HTTP, relays the outbox and processes events until ctx is
// done; then it stops taking requests, lets in-flight handlers finish,
// flushes the relay and closes the connections.
func (rt *Runtime) Run(ctx context.Context) error {
	defer rt.close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return httpx.ServeListener(gctx, rt.listener, httpx.ServerConfig{ShutdownTimeout: rt.Config.ShutdownTimeout}, rt.Router, rt.Log)
	})
	g.Go(func() error { return rt.Processor.Run(gctx) })
	g.Go(func() error { return rt.Relay.Run(gctx) })
	for _, task := range rt.background {
		g.Go(func() error { return task(gctx) })
	}
	rt.Log.Info("service started", "config", rt.Config, "settings", rt.serviceConfig, "http", rt.Addr())
	err := g.Wait()
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, context.Canceled) {
		err = nil
	}
	rt.Log.Info("service stopped")
	return err
}

// Abandon releases a runtime that will never Run: its connections and its
// listener (which Run would otherwise close), so a failed start leaves no
// port bound.
func (rt *Runtime) Abandon() {
	if rt.listener != nil {
		_ = rt.listener.Close()
	}
	rt.close()
}

func (rt *Runtime) close() {
	if rt.NC != nil {
		_ = rt.NC.Drain()
	}
	if rt.DB != nil {
		_ = rt.DB.Close()
	}
}

func openWithRetry(ctx context.Context, dsn string, pool pgdb.PoolConfig, log *slog.Logger) (*sqlx.DB, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := pgdb.Open(ctx, dsn, pool)
		if err == nil {
			return db, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		log.Warn("database not reachable yet; retrying", "err", err)
		time.Sleep(500 * time.Millisecond)
	}
}

// streamsOf names the services whose streams a service needs: its own,
// which it publishes to, and those of the events it consumes. Every
// service's stream has the same canonical configuration, so replicas and
// other services creating it converge.
func streamsOf(name string, consumes []string) ([]string, error) {
	out := []string{name}
	for _, subject := range consumes {
		owner, err := messaging.ServiceOfSubject(subject)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, owner) {
			out = append(out, owner)
		}
	}
	return out, nil
}

func ensureStreamsWithRetry(ctx context.Context, js jetstream.JetStream, replicas int, services []string, log *slog.Logger) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := messaging.EnsureStreams(sctx, js, messaging.StreamConfig{Replicas: replicas, Services: services})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		log.Warn("jetstream not ready yet; retrying", "err", err)
		time.Sleep(500 * time.Millisecond)
	}
}
