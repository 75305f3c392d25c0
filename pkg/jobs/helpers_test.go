package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

// effectArgs is a job whose effect is a row in effects, so a test can count
// how often it ran.
type effectArgs struct {
	Key string `json:"key"`
}

func (effectArgs) Kind() string { return "test_effect" }

// effectsSchema: effects has no unique key, so a job that runs twice shows
// up twice; unique_effects is the idempotent kind, keyed by the job's key.
const effectsSchema = `
	CREATE TABLE effects (key text NOT NULL, job_id bigint NOT NULL, attempt int NOT NULL, client text NOT NULL);
	CREATE TABLE unique_effects (key text PRIMARY KEY, job_id bigint NOT NULL, attempt int NOT NULL);
	CREATE TABLE progress (job_id bigint NOT NULL, attempt int NOT NULL);`

// setup returns a fresh database with River's tables and the effects tables.
func setup(t *testing.T) (*sqlx.DB, string) {
	t.Helper()
	db, dsn := testharness.DB(t)
	ctx := context.Background()
	require.NoError(t, jobs.Migrate(ctx, db, testharness.Logger()))
	_, err := db.ExecContext(ctx, effectsSchema)
	require.NoError(t, err)
	return db, dsn
}

// effectWorker records each run as a row in effects, in its own transaction
// (not with the job's completion): a job that ran twice leaves two rows.
type effectWorker struct {
	river.WorkerDefaults[effectArgs]
	db *sqlx.DB
	// ran, if set, receives the key after each run.
	ran chan string
	// hold, if set, is called before the effect (to block a job).
	hold func(ctx context.Context, job *river.Job[effectArgs]) error
}

func (w *effectWorker) Work(ctx context.Context, job *river.Job[effectArgs]) error {
	if w.hold != nil {
		if err := w.hold(ctx, job); err != nil {
			return err
		}
	}
	client := river.ClientFromContext[*sql.Tx](ctx).ID()
	if _, err := w.db.ExecContext(ctx, `INSERT INTO effects (key, job_id, attempt, client) VALUES ($1, $2, $3, $4)`,
		job.Args.Key, job.ID, job.Attempt, client); err != nil {
		return err
	}
	if w.ran != nil {
		w.ran <- job.Args.Key
	}
	return nil
}

func workers(w river.Worker[effectArgs]) *river.Workers {
	ws := river.NewWorkers()
	river.AddWorker(ws, w)
	return ws
}

// testConfig is a Config with test-friendly timings.
func testConfig(db *sqlx.DB, ws *river.Workers) jobs.Config {
	return jobs.Config{
		DB: db, Log: testharness.Logger(), Workers: ws,
		FetchPollInterval: 50 * time.Millisecond,
		SoftStopTimeout:   2 * time.Second,
		RetryPolicy:       fixedRetry(100 * time.Millisecond),
	}
}

// fixedRetry retries after d: River's default waits attempt^4 seconds.
type fixedRetry time.Duration

func (d fixedRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Duration(d)) }

// run runs a client until the test ends (or the returned stop is called)
// and fails the test if Run does not stop cleanly.
func run(t *testing.T, cfg jobs.Config) (*jobs.Client, func()) {
	t.Helper()
	c, err := jobs.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err, "Run")
			case <-time.After(30 * time.Second):
				t.Error("Run did not return")
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

// insert inserts a job in its own committed transaction.
func insert(t *testing.T, c *jobs.Client, db *sqlx.DB, args effectArgs, opts *river.InsertOpts) int64 {
	t.Helper()
	var id int64
	require.NoError(t, pgdb.InTx(context.Background(), db, nil, func(tx *sqlx.Tx) error {
		res, err := c.InsertTx(context.Background(), tx, args, opts)
		if err != nil {
			return err
		}
		id = res.Job.ID
		return nil
	}))
	return id
}

// count counts effects rows for key.
func count(t *testing.T, db *sqlx.DB, key string) int {
	t.Helper()
	var n int
	require.NoError(t, db.Get(&n, `SELECT count(*) FROM effects WHERE key = $1`, key))
	return n
}

// jobState reads a job's state.
func jobState(t *testing.T, db *sqlx.DB, id int64) string {
	t.Helper()
	var s string
	require.NoError(t, db.Get(&s, `SELECT state FROM river_job WHERE id = $1`, id))
	return s
}

// waitRan waits for the worker to report key (other keys are skipped).
func waitRan(t *testing.T, ran <-chan string, key string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case k := <-ran:
			if k == key {
				return
			}
		case <-deadline:
			t.Fatalf("job %q did not run within %s", key, within)
		}
	}
}

// waitState polls a job's state until it is want.
func waitState(t *testing.T, db *sqlx.DB, id int64, want string, within time.Duration) {
	t.Helper()
	testharness.Eventually(t, within, func() bool { return jobState(t, db, id) == want },
		"job %d never reached %s", id, want)
}

var errRollback = errors.New("rollback on purpose")

// newFake is a fake clock starting at real time. Not a fixed date: River's
// job cleaner (v0.51.2) alone reads the real time.Now, and would delete
// finalized jobs stamped by a clock far in the past before a test looks at
// them.
func newFake() *clock.Fake { return clock.NewFake(time.Now()) }
