package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/pgdb"
)

// Service describes one clinicops service, once: its name and default
// address, its migrations, the events it consumes, its own typed
// configuration, its reference data and how it is built. The service
// binary (Main), `clinicops dev`, testharness, the end-to-end tests and the
// benchmarks all start a service from this value, so its wiring is written
// in one place. Build one with Define.
type Service struct {
	// Name is the service's name: its database, its stream (upper case) and
	// its subjects clinicops.<name>.>.
	Name string
	// DefaultAddr is where its HTTP API listens unless configured.
	DefaultAddr string
	// Migrations are the service's own, applied after the platform's.
	Migrations []pgdb.MigrationSource
	// Consumes lists the event types (proto full names) the service handles.
	// The runtime ensures their streams exist and checks that the handlers
	// Build registers are exactly these.
	Consumes []string

	build func(ctx context.Context, opts Options) (*Runtime, error)
	seed  func(ctx context.Context, rt *Runtime) error
}

// Definition is what a service declares about itself; C is its own typed
// configuration.
type Definition[C any] struct {
	Name        string
	DefaultAddr string
	Migrations  []pgdb.MigrationSource
	Consumes    []string
	// OpenAPI is the service's HTTP contract, served publicly at
	// GET /openapi.yaml.
	OpenAPI []byte
	// Config reads the service's own settings through getenv (the process
	// environment in a binary, a map in tests). It must validate them. If C
	// implements slog.LogValuer it is logged at start, so it masks secrets.
	Config func(getenv func(string) string) (C, error)
	// Build registers routes, event handlers, jobs and background tasks on
	// a runtime that is connected and migrated.
	Build func(ctx context.Context, rt *Runtime, cfg C) error
	// Seed, if set, installs demo reference data where the clinic has none;
	// it never overwrites the clinic's own edits. `clinicops dev` runs it,
	// and a binary runs it when <NAME>_SEED_REFERENCE_DATA=true.
	Seed func(ctx context.Context, rt *Runtime) error
}

// Define turns a service's definition into its description.
func Define[C any](d Definition[C]) Service {
	return Service{
		Name: d.Name, DefaultAddr: d.DefaultAddr, Migrations: d.Migrations, Consumes: d.Consumes,
		seed: d.Seed,
		build: func(ctx context.Context, opts Options) (*Runtime, error) {
			cfg, err := d.Config(opts.getenv())
			if err != nil {
				return nil, fmt.Errorf("%s config: %w", d.Name, err)
			}
			rt, err := newRuntime(ctx, d.Name, d.Migrations, d.Consumes, opts)
			if err != nil {
				return nil, err
			}
			if len(d.OpenAPI) > 0 {
				rt.Router.Public("GET /openapi.yaml", serveDocument(d.OpenAPI))
			}
			if lv, ok := any(cfg).(slog.LogValuer); ok {
				rt.serviceConfig = lv.LogValue()
			}
			if err := d.Build(ctx, rt, cfg); err != nil {
				rt.Abandon()
				return nil, fmt.Errorf("build %s: %w", d.Name, err)
			}
			if err := checkConsumes(d.Consumes, rt.Processor.Subjects()); err != nil {
				rt.Abandon()
				return nil, fmt.Errorf("%s: %w", d.Name, err)
			}
			return rt, nil
		},
	}
}

// New connects, migrates and builds the service; call Run on the result.
func (s Service) New(ctx context.Context, opts Options) (*Runtime, error) {
	if s.build == nil {
		return nil, errors.New("platform.Service must be made with platform.Define")
	}
	if opts.Config.Service == "" {
		opts.Config.Service = s.Name
	}
	if opts.Config.Service != s.Name {
		return nil, fmt.Errorf("config is for %q, not %q", opts.Config.Service, s.Name)
	}
	return s.build(ctx, opts)
}

// Seed installs the service's demo reference data, if it has any.
func (s Service) Seed(ctx context.Context, rt *Runtime) error {
	if s.seed == nil {
		return nil
	}
	if err := s.seed(ctx, rt); err != nil {
		return fmt.Errorf("seed %s: %w", s.Name, err)
	}
	return nil
}

// Stream is the JetStream stream the service owns.
func (s Service) Stream() string { return strings.ToUpper(s.Name) }

// AllMigrations are the platform's migrations and the service's, in the
// order they are applied (tests migrate a template database with them).
func (s Service) AllMigrations() []pgdb.MigrationSource {
	return append(platformMigrations(), s.Migrations...)
}

func checkConsumes(declared, registered []string) error {
	d := slices.Clone(declared)
	r := slices.Clone(registered)
	slices.Sort(d)
	slices.Sort(r)
	d, r = slices.Compact(d), slices.Compact(r)
	if !slices.Equal(d, r) {
		return fmt.Errorf("declares it consumes %v but registers handlers for %v", d, r)
	}
	return nil
}

func serveDocument(doc []byte) httpx.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		_, err := w.Write(doc)
		return err
	}
}
