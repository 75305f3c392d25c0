package jobs_test

import (
	"context"
	"errors"
	"fmt"
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

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	db, _ := setup(t) // migrated once
	ctx := context.Background()
	require.NoError(t, jobs.Migrate(ctx, db, testharness.Logger()))
	var n int
	require.NoError(t, db.Get(&n, `SELECT count(*) FROM river_job`))
	require.Zero(t, n)
}

// A job inserted in a transaction that rolls back never runs.
func TestRolledBackInsertNeverRuns(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := context.Background()
	ran := make(chan string, 10)
	cfg := testConfig(db, workers(&effectWorker{db: db, ran: ran}))
	cfg.Queues = map[string]int{river.QueueDefault: 1} // one at a time: FIFO
	c, _ := run(t, cfg)

	err := pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		if _, err := c.InsertTx(ctx, tx, effectArgs{Key: "rolled-back"}, nil); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)

	// A job committed after it runs: the queue has fetched past the
	// rolled-back one, had it existed.
	insert(t, c, db, effectArgs{Key: "committed"}, nil)
	waitRan(t, ran, "committed", 10*time.Second)

	require.Zero(t, count(t, db, "rolled-back"))
	var n int
	require.NoError(t, db.Get(&n, `SELECT count(*) FROM river_job WHERE args->>'key' = 'rolled-back'`))
	require.Zero(t, n, "the rolled-back job must not exist")
}

// A committed job runs exactly once while two replicas work the same
// database.
func TestTwoReplicasRunEachJobOnce(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := context.Background()
	// Each job takes a moment so both replicas get a share.
	w := &effectWorker{db: db, hold: func(ctx context.Context, _ *river.Job[effectArgs]) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
			return nil
		}
	}}
	var clients []*jobs.Client
	for _, id := range []string{"replica-a", "replica-b"} {
		cfg := testConfig(db, workers(w))
		cfg.ID = id
		cfg.Queues = map[string]int{river.QueueDefault: 4}
		c, _ := run(t, cfg)
		clients = append(clients, c)
	}

	insertBatch := func(prefix string, n int) {
		require.NoError(t, pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
			for i := range n {
				if _, err := clients[i%2].InsertTx(ctx, tx, effectArgs{Key: fmt.Sprintf("%s-%d", prefix, i)}, nil); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	allCompleted := func() bool {
		var left int
		require.NoError(t, db.Get(&left, `SELECT count(*) FROM river_job WHERE state <> 'completed'`))
		return left == 0
	}
	requireOnce := func(prefix string, n int) {
		t.Helper()
		var dups []string
		require.NoError(t, db.Select(&dups, `SELECT key FROM effects WHERE key LIKE $1 GROUP BY key HAVING count(*) > 1`, prefix+"-%"))
		require.Empty(t, dups, "jobs that ran more than once")
		var total int
		require.NoError(t, db.Get(&total, `SELECT count(*) FROM effects WHERE key LIKE $1`, prefix+"-%"))
		require.Equal(t, n, total)
	}

	const n = 200
	insertBatch("first", n)
	testharness.Eventually(t, 60*time.Second, allCompleted, "first batch did not complete")
	requireOnce("first", n)
	var replicas []string
	require.NoError(t, db.Select(&replicas, `SELECT DISTINCT client FROM effects ORDER BY client`))
	require.Equal(t, []string{"replica-a", "replica-b"}, replicas, "both replicas should have worked")

	// Let both replicas go through more fetches (a second batch) and look
	// again: no late duplicate of the first batch.
	insertBatch("second", 50)
	testharness.Eventually(t, 60*time.Second, allCompleted, "second batch did not complete")
	requireOnce("first", n)
	requireOnce("second", 50)
}

// A job that came due while no client was running runs when one starts.
func TestJobDueWhileDownRunsAtStart(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ran := make(chan string, 10)
	cfg := testConfig(db, workers(&effectWorker{db: db, ran: ran}))

	// The service is down: a client that only inserts (as the last act of a
	// process that then stopped).
	inserter, err := jobs.New(cfg)
	require.NoError(t, err)
	dueAt := time.Now().Add(300 * time.Millisecond)
	id := insert(t, inserter, db, effectArgs{Key: "due-while-down"}, &river.InsertOpts{ScheduledAt: dueAt})
	testharness.Eventually(t, 10*time.Second, func() bool {
		var due bool
		require.NoError(t, db.Get(&due, `SELECT now() > scheduled_at FROM river_job WHERE id = $1`, id))
		return due
	}, "job never came due")
	require.Zero(t, count(t, db, "due-while-down"))

	run(t, cfg) // the service starts
	waitRan(t, ran, "due-while-down", 10*time.Second)
	waitState(t, db, id, "completed", 10*time.Second)
	require.Equal(t, 1, count(t, db, "due-while-down"))
}

// With a controlled clock, a job 14 days ahead runs only when the clock is
// advanced past it, and then promptly.
func TestJobRunsWhenClockAdvancedPastIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		clock   clock.Clock
		advance func(t *testing.T, c clock.Clock, d time.Duration)
	}{
		{"fake", newFake(), func(_ *testing.T, c clock.Clock, d time.Duration) {
			c.(*clock.Fake).Advance(d)
		}},
		{"dev", clock.NewDev(), func(t *testing.T, c clock.Clock, d time.Duration) {
			_, err := c.(*clock.Dev).Advance(d)
			require.NoError(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, _ := setup(t)
			ran := make(chan string, 10)
			cfg := testConfig(db, workers(&effectWorker{db: db, ran: ran}))
			cfg.Clock = tc.clock
			c, _ := run(t, cfg)

			const day = 24 * time.Hour
			id := insert(t, c, db, effectArgs{Key: "in-14-days"}, &river.InsertOpts{ScheduledAt: tc.clock.Now().Add(14 * day)})

			// The queue is working (a job due now runs) but the future one waits.
			insert(t, c, db, effectArgs{Key: "now-1"}, nil)
			waitRan(t, ran, "now-1", 10*time.Second)
			tc.advance(t, tc.clock, 13*day)
			insert(t, c, db, effectArgs{Key: "now-2"}, nil)
			waitRan(t, ran, "now-2", 10*time.Second)
			require.Zero(t, count(t, db, "in-14-days"), "ran before it was due")
			require.Equal(t, "available", jobState(t, db, id))

			tc.advance(t, tc.clock, day+time.Minute)
			start := time.Now()
			waitRan(t, ran, "in-14-days", 5*time.Second)
			require.Less(t, time.Since(start), 2*time.Second, "not prompt")
			waitState(t, db, id, "completed", 10*time.Second)
			require.Equal(t, 1, count(t, db, "in-14-days"))
		})
	}
}

// Moving a job is cancel plus insert in one transaction: the old one never
// runs, the new one runs once; a rolled-back move leaves the old one alone.
func TestMoveIsCancelPlusInsertInOneTx(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := context.Background()
	fake := newFake()
	ran := make(chan string, 10)
	cfg := testConfig(db, workers(&effectWorker{db: db, ran: ran}))
	cfg.Clock = fake
	c, _ := run(t, cfg)
	unique := river.UniqueOpts{ByArgs: true}
	at := func(d time.Duration) *river.InsertOpts {
		return &river.InsertOpts{ScheduledAt: fake.Now().Add(d), UniqueOpts: unique}
	}

	// The reminder is due in an hour; while it is pending, an equal one is a
	// duplicate.
	oldID := insert(t, c, db, effectArgs{Key: "reminder"}, at(time.Hour))
	require.NoError(t, pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		res, err := c.InsertTx(ctx, tx, effectArgs{Key: "reminder"}, at(2*time.Hour))
		require.NoError(t, err)
		require.True(t, res.UniqueSkippedAsDuplicate)
		require.Equal(t, oldID, res.Job.ID)
		return nil
	}))

	// A move that rolls back changes nothing.
	err := pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		res, err := c.MoveTx(ctx, tx, oldID, effectArgs{Key: "reminder"}, at(-time.Minute))
		require.NoError(t, err)
		require.NotEqual(t, oldID, res.Job.ID)
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Equal(t, "available", jobState(t, db, oldID))
	var jobsForKey int
	require.NoError(t, db.Get(&jobsForKey, `SELECT count(*) FROM river_job WHERE args->>'key' = 'reminder'`))
	require.Equal(t, 1, jobsForKey)

	// A committed move: the new job (due now) runs once, the old one never.
	var newID int64
	require.NoError(t, pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		res, err := c.MoveTx(ctx, tx, oldID, effectArgs{Key: "reminder"}, at(-time.Minute))
		if err != nil {
			return err
		}
		newID = res.Job.ID
		return nil
	}))
	waitRan(t, ran, "reminder", 10*time.Second)
	waitState(t, db, newID, "completed", 10*time.Second)
	require.Equal(t, "cancelled", jobState(t, db, oldID))

	// Past the old job's time, it still does not run.
	fake.Advance(2 * time.Hour)
	insert(t, c, db, effectArgs{Key: "later"}, nil)
	waitRan(t, ran, "later", 10*time.Second)
	require.Equal(t, "cancelled", jobState(t, db, oldID))
	var runs []int64
	require.NoError(t, db.Select(&runs, `SELECT job_id FROM effects WHERE key = 'reminder'`))
	require.Equal(t, []int64{newID}, runs)
}

// A job that was moved back by a rolled-back move still runs at its time.
func TestRolledBackMoveKeepsOldJobRunning(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := context.Background()
	fake := newFake()
	ran := make(chan string, 10)
	cfg := testConfig(db, workers(&effectWorker{db: db, ran: ran}))
	cfg.Clock = fake
	c, _ := run(t, cfg)
	opts := &river.InsertOpts{ScheduledAt: fake.Now().Add(time.Hour), UniqueOpts: river.UniqueOpts{ByArgs: true}}
	oldID := insert(t, c, db, effectArgs{Key: "kept"}, opts)

	err := pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		if _, err := c.MoveTx(ctx, tx, oldID, effectArgs{Key: "kept"}, &river.InsertOpts{ScheduledAt: fake.Now().Add(3 * time.Hour)}); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)

	fake.Advance(time.Hour + time.Minute)
	waitRan(t, ran, "kept", 10*time.Second)
	waitState(t, db, oldID, "completed", 10*time.Second)
	require.Equal(t, 1, count(t, db, "kept"))
}

// Moving a running job fails with ErrJobRunning (its unique key is still
// held); rolling back leaves the running job alone and it completes.
func TestMoveRunningJob(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	ran := make(chan string, 10)
	w := &effectWorker{db: db, ran: ran, hold: func(ctx context.Context, _ *river.Job[effectArgs]) error {
		close(started)
		<-release
		return nil
	}}
	c, _ := run(t, testConfig(db, workers(w)))
	id := insert(t, c, db, effectArgs{Key: "busy"}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
	<-started
	err := pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		_, err := c.MoveTx(ctx, tx, id, effectArgs{Key: "busy"}, nil)
		return err
	})
	require.ErrorIs(t, err, jobs.ErrJobRunning)
	close(release)
	waitRan(t, ran, "busy", 10*time.Second)
	waitState(t, db, id, "completed", 10*time.Second)
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t)
	ws := workers(&effectWorker{db: db})
	for name, cfg := range map[string]jobs.Config{
		"no db":            {Workers: ws},
		"no workers":       {DB: db},
		"negative queue":   {DB: db, Workers: ws, Queues: map[string]int{"q": -1}},
		"no job timeout":   {DB: db, Workers: ws, JobTimeout: -1},
		"rescue < timeout": {DB: db, Workers: ws, JobTimeout: time.Hour, RescueStuckJobsAfter: time.Minute},
	} {
		_, err := jobs.New(cfg)
		require.Error(t, err, name)
	}
	_, err := jobs.New(jobs.Config{DB: db, Workers: ws})
	require.NoError(t, err)
}

// clockRetry retries an hour later by the given clock.
type clockRetry struct{ c clock.Clock }

func (r clockRetry) NextRetry(*rivertype.JobRow) time.Time { return r.c.Now().Add(time.Hour) }

// A failed job waits for its retry time by the controlled clock too: River's
// scheduler (every 5 s, on the leader) compares with our clock.
func TestRetryComesDueWithClock(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	fake := newFake()
	ran := make(chan string, 10)
	w := &effectWorker{db: db, ran: ran, hold: func(_ context.Context, job *river.Job[effectArgs]) error {
		if job.Attempt == 1 && job.Args.Key == "flaky" {
			return errors.New("first attempt fails")
		}
		return nil
	}}
	cfg := testConfig(db, workers(w))
	cfg.Clock = fake
	cfg.RetryPolicy = clockRetry{fake}
	c, _ := run(t, cfg)
	id := insert(t, c, db, effectArgs{Key: "flaky"}, nil)
	waitState(t, db, id, "retryable", 10*time.Second)

	fake.Advance(59 * time.Minute)
	insert(t, c, db, effectArgs{Key: "now"}, nil)
	waitRan(t, ran, "now", 10*time.Second)
	require.Equal(t, "retryable", jobState(t, db, id))

	fake.Advance(2 * time.Minute)
	waitRan(t, ran, "flaky", 15*time.Second)
	waitState(t, db, id, "completed", 10*time.Second)
	require.Equal(t, 1, count(t, db, "flaky"))
}
