//go:build linux

package jobs_test

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// Environment of the helper process TestCrashHelper runs in.
const (
	envCrashHelper = "CLINICOPS_JOBS_CRASH_HELPER"
	envCrashDSN    = "CLINICOPS_JOBS_CRASH_DSN"
)

// txEffectWorker makes its effect idempotent by committing it in the
// transaction that completes the job (jobs.CompleteTx): killed before the
// commit, neither the effect nor the completion happened and the job runs
// again; after it, both did and it does not. unique_effects' key would also
// refuse a second effect, but with the shared transaction it never has to.
type txEffectWorker struct {
	river.WorkerDefaults[effectArgs]
	db *sqlx.DB
	// middle, if set, runs after the effect is written and before the
	// commit: the helper process reports progress there and waits to die.
	middle func(ctx context.Context, job *river.Job[effectArgs])
}

func (w *txEffectWorker) Work(ctx context.Context, job *river.Job[effectArgs]) error {
	return pgdb.InTx(ctx, w.db, nil, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO unique_effects (key, job_id, attempt) VALUES ($1, $2, $3)`,
			job.Args.Key, job.ID, job.Attempt); err != nil {
			return err
		}
		if w.middle != nil {
			w.middle(ctx, job)
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// TestCrashHelper is not a test: it is the service process that
// TestKilledMidJobRunsAgain starts and kills.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(envCrashHelper) != "1" {
		t.Skip("helper process for TestKilledMidJobRunsAgain")
	}
	ctx := context.Background()
	db, err := pgdb.Open(ctx, os.Getenv(envCrashDSN), pgdb.PoolConfig{MaxOpenConns: 10})
	require.NoError(t, err)
	w := &txEffectWorker{db: db, middle: func(ctx context.Context, job *river.Job[effectArgs]) {
		// Report "in the middle" outside the job's transaction, then hang
		// until killed.
		_, err := db.ExecContext(ctx, `INSERT INTO progress (job_id, attempt) VALUES ($1, $2)`, job.ID, job.Attempt)
		require.NoError(t, err)
		select {}
	}}
	cfg := testConfig(db, workers(w))
	cfg.ID = "doomed"
	c, err := jobs.New(cfg)
	require.NoError(t, err)
	require.NoError(t, c.Run(ctx)) // never returns: SIGKILL
}

// A process killed in the middle of a job: after restart River rescues the
// job (RescueStuckJobsAfter) and runs it again, and its effect happens once.
func TestKilledMidJobRunsAgain(t *testing.T) {
	t.Parallel()
	db, dsn := setup(t)

	// The job is committed before any process works it.
	inserter, err := jobs.New(testConfig(db, workers(&txEffectWorker{db: db})))
	require.NoError(t, err)
	id := insert(t, inserter, db, effectArgs{Key: "once"}, nil)

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashHelper+"=1", envCrashDSN+"="+dsn)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	testharness.Eventually(t, 30*time.Second, func() bool {
		var n int
		require.NoError(t, db.Get(&n, `SELECT count(*) FROM progress WHERE job_id = $1`, id))
		return n == 1
	}, "helper never started the job")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	killed = true

	require.Equal(t, "running", jobState(t, db, id), "the dead process still holds the job")
	var effects int
	require.NoError(t, db.Get(&effects, `SELECT count(*) FROM unique_effects`))
	require.Zero(t, effects, "the killed attempt's effect must not have committed")

	// The service restarts. River's leader row of the dead process expires
	// first (TTL 15 s), then the new leader's rescuer finds the job stuck.
	cfg := testConfig(db, workers(&txEffectWorker{db: db}))
	cfg.ID = "restarted"
	// River rescues a job only once its timeout has passed, and never one
	// without a timeout (which jobs.New refuses).
	cfg.JobTimeout = 500 * time.Millisecond
	cfg.RescueStuckJobsAfter = time.Second
	run(t, cfg)
	waitState(t, db, id, "completed", 90*time.Second)

	var rows []struct {
		JobID   int64 `db:"job_id"`
		Attempt int   `db:"attempt"`
	}
	require.NoError(t, db.Select(&rows, `SELECT job_id, attempt FROM unique_effects WHERE key = 'once'`))
	require.Len(t, rows, 1, "the effect happened more than once")
	require.Equal(t, id, rows[0].JobID)
	require.Equal(t, 2, rows[0].Attempt, "the effect comes from the second attempt")
}
