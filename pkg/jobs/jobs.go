// Package jobs runs durable background jobs (reminders, check-ins, payment
// reminders) on River (github.com/riverqueue/river) over the service's own
// PostgreSQL database, through lib/pq and database/sql.
//
// What it adds to River:
//
//   - Jobs are inserted in the caller's transaction (InsertTx), so a job
//     exists exactly when the state change that asked for it committed.
//     Moving a job is cancel plus insert in that same transaction (MoveTx).
//   - The process clock (pkg/clock) drives River's time, so with the dev or
//     fake clock a job scheduled 14 days ahead runs as soon as the clock is
//     advanced past it. See time.go for how.
//   - Run fits platform.Runtime.Background: it starts the queues and, when
//     its context ends, stops fetching, gives running jobs SoftStopTimeout to
//     finish and then cancels them; River hands a job cancelled that way back
//     to the queue (state available, attempt not counted), so it is not lost.
//
// Delivery is at least once: a process killed in the middle of a job runs it
// again after RescueStuckJobsAfter. A worker makes its effect idempotent by
// committing it in the same transaction that completes the job (CompleteTx),
// or with a unique key of its own when the effect is outside the database.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertype"

	"github.com/clinicops/clinicops/pkg/clock"
)

// Defaults.
const (
	// DefaultFetchPollInterval: the database/sql driver has no LISTEN, so a
	// queue notices a job inserted by another process, or one that just came
	// due, only when it polls. 200 ms keeps that delay invisible to people
	// (reminders are not sub-second) for one indexed query per queue per
	// replica five times a second.
	DefaultFetchPollInterval = 200 * time.Millisecond
	// DefaultMaxWorkers is the concurrency of a queue given as 0.
	DefaultMaxWorkers = 10
	// DefaultSoftStopTimeout is how long running jobs get to finish on stop
	// before their contexts are cancelled.
	DefaultSoftStopTimeout = 10 * time.Second
	// DefaultHardStopTimeout is how long Run waits, after cancelling running
	// jobs, for workers that ignore their context.
	DefaultHardStopTimeout = 5 * time.Second
)

// Driver is the River driver jobs uses: database/sql over lib/pq.
type Driver = riverdatabasesql.Driver

// Config configures a job client.
type Config struct {
	// DB is the service's database, migrated with Migrate.
	DB *sqlx.DB
	// Log receives River's logs (job errors included: keep personal data out
	// of worker errors).
	Log *slog.Logger
	// Clock drives River's time (default clock.System()).
	Clock clock.Clock
	// Workers are the job kinds this client works (river.NewWorkers,
	// river.AddWorker). Required, even for a client that only inserts: River
	// checks that each inserted kind has a worker.
	Workers *river.Workers
	// Queues maps a queue name to its concurrency (max workers; 0 means
	// DefaultMaxWorkers). Empty means river.QueueDefault only.
	Queues map[string]int
	// FetchPollInterval is how often each queue looks for available jobs
	// (default DefaultFetchPollInterval; see there why).
	FetchPollInterval time.Duration
	// RetryPolicy decides when a failed job runs again. Nil keeps River's
	// default: attempt^4 seconds with 10% jitter (1 s, 16 s, 81 s, ... about
	// three weeks over 25 attempts).
	RetryPolicy river.ClientRetryPolicy
	// MaxAttempts before a job is discarded (default River's, 25).
	MaxAttempts int
	// JobTimeout cancels a job's context after this long (default River's,
	// 1 min). River's "-1, no timeout" is refused: River's rescuer never
	// rescues a job without a timeout, so a job whose process died would stay
	// running forever.
	JobTimeout time.Duration
	// RescueStuckJobsAfter is when a job still "running" is presumed to
	// belong to a dead process and is retried (default River's, 1 h). It must
	// exceed JobTimeout; a job still alive then runs twice, so keep it well
	// above the longest job.
	RescueStuckJobsAfter time.Duration
	// SoftStopTimeout: on stop, running jobs get this long to finish
	// (default DefaultSoftStopTimeout), then their contexts are cancelled.
	SoftStopTimeout time.Duration
	// HardStopTimeout: after cancelling, Run waits this long for workers that
	// ignore their context before giving up with an error (default
	// DefaultHardStopTimeout). Such a job is rescued after
	// RescueStuckJobsAfter.
	HardStopTimeout time.Duration
	// ID names this client in river_job.attempted_by; empty lets River make
	// one up (host and time). Must differ between processes.
	ID string
	// LeaderElectionDisabled keeps this client out of leader election (River
	// maintenance: scheduling retries, rescuing stuck jobs, cleaning). Another
	// client on the database must stay eligible.
	LeaderElectionDisabled bool
}

// Client inserts jobs in the caller's transactions and works them.
type Client struct {
	river *river.Client[*sql.Tx]
	cfg   Config
	log   *slog.Logger
}

// New builds a client. It does not touch the database; Run starts working.
func New(cfg Config) (*Client, error) {
	if cfg.DB == nil {
		return nil, errors.New("jobs: DB is required")
	}
	if cfg.Workers == nil {
		return nil, errors.New("jobs: Workers is required")
	}
	if cfg.JobTimeout < 0 {
		return nil, errors.New("jobs: JobTimeout must not be negative: River never rescues a job without a timeout")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System()
	}
	cfg.FetchPollInterval = cmp.Or(cfg.FetchPollInterval, DefaultFetchPollInterval)
	cfg.SoftStopTimeout = cmp.Or(cfg.SoftStopTimeout, DefaultSoftStopTimeout)
	cfg.HardStopTimeout = cmp.Or(cfg.HardStopTimeout, DefaultHardStopTimeout)
	if len(cfg.Queues) == 0 {
		cfg.Queues = map[string]int{river.QueueDefault: 0}
	}
	queues := make(map[string]river.QueueConfig, len(cfg.Queues))
	for name, n := range cfg.Queues {
		if n < 0 {
			return nil, fmt.Errorf("jobs: queue %q: negative concurrency %d", name, n)
		}
		queues[name] = river.QueueConfig{MaxWorkers: cmp.Or(n, DefaultMaxWorkers)}
	}
	log := cfg.Log.With("component", "jobs")
	rc := &river.Config{
		// River's fetch cooldown (default 100 ms) may not exceed the poll
		// interval.
		FetchCooldown:          min(cfg.FetchPollInterval, river.FetchCooldownDefault),
		FetchPollInterval:      cfg.FetchPollInterval,
		ID:                     cfg.ID,
		JobTimeout:             cfg.JobTimeout,
		LeaderElectionDisabled: cfg.LeaderElectionDisabled,
		Logger:                 log,
		MaxAttempts:            cfg.MaxAttempts,
		Middleware:             []rivertype.Middleware{&dueAtScheduledAt{}},
		// database/sql has no LISTEN: say so rather than have River find out.
		PollOnly:             true,
		Queues:               queues,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		RetryPolicy:          cfg.RetryPolicy,
		SoftStopTimeout:      cfg.SoftStopTimeout,
		Workers:              cfg.Workers,
	}
	if !clock.IsSystem(cfg.Clock) {
		rc.Test.Time = riverTime{cfg.Clock}
	}
	rcl, err := river.NewClient(riverdatabasesql.New(cfg.DB.DB), rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return &Client{river: rcl, cfg: cfg, log: log}, nil
}

// River is the underlying River client, for what this package does not wrap
// (JobGetTx, JobListTx, Subscribe in tests, queue pausing).
func (c *Client) River() *river.Client[*sql.Tx] { return c.river }

// Run works jobs until ctx ends, then stops: no new fetches, running jobs get
// SoftStopTimeout to finish, then their contexts are cancelled (River puts a
// job that returns because of that back in the queue as available, without
// counting the attempt). It returns nil after a clean stop, an error if River
// failed to start or stopped by itself, or if workers still ran
// HardStopTimeout after cancellation.
func (c *Client) Run(ctx context.Context) error {
	if err := c.river.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	stopped := c.river.Stopped()
	select {
	case <-ctx.Done():
	case <-stopped:
		if ctx.Err() == nil {
			return errors.New("jobs: river client stopped on its own")
		}
	}
	// With SoftStopTimeout set, River treats the end of the Start context as
	// a soft stop and escalates to cancelling job contexts after the timeout.
	wait := time.NewTimer(c.cfg.SoftStopTimeout + c.cfg.HardStopTimeout)
	defer wait.Stop()
	select {
	case <-stopped:
		return nil
	case <-wait.C:
		return fmt.Errorf("jobs: workers still running %s after stop; their jobs will be rescued after RescueStuckJobsAfter",
			c.cfg.SoftStopTimeout+c.cfg.HardStopTimeout)
	}
}
