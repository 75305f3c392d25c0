package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/clinicops/clinicops/pkg/jobs"
)

// Stop while a job runs: a job that finishes within SoftStopTimeout
// completes; one that does not is cancelled, handed back to the queue and run
// by the next client. Run returns nil and leaves no goroutine behind.
//
// Not parallel: goleak looks at every goroutine of the process, and parallel
// tests wait until the sequential ones have finished.
func TestStopWhileJobRuns(t *testing.T) {
	db, _ := setup(t) // before the goroutine snapshot: the cluster and pool stay
	ignore := goleak.IgnoreCurrent()

	// 1. The job finishes during the soft stop: completed.
	started, release := make(chan struct{}, 1), make(chan struct{})
	ran := make(chan string, 10)
	finishing := &effectWorker{db: db, ran: ran, hold: func(ctx context.Context, _ *river.Job[effectArgs]) error {
		started <- struct{}{}
		<-release // ignores ctx: it is finishing its work
		return nil
	}}
	cfg := testConfig(db, workers(finishing))
	cfg.SoftStopTimeout = 10 * time.Second
	c, err := jobs.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	id := insert(t, c, db, effectArgs{Key: "finishes"}, nil)
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned while a job was running: %v", err)
	case <-time.After(100 * time.Millisecond): // Run must still be waiting
	}
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, "completed", jobState(t, db, id))
	require.Equal(t, 1, count(t, db, "finishes"))

	// 2. The job outlasts the soft stop: its context is cancelled, it
	// returns, and River makes it available again without counting the
	// attempt.
	stuck := &effectWorker{db: db, ran: ran, hold: func(ctx context.Context, _ *river.Job[effectArgs]) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}}
	cfg = testConfig(db, workers(stuck))
	cfg.SoftStopTimeout = 200 * time.Millisecond
	c, err = jobs.New(cfg)
	require.NoError(t, err)
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- c.Run(ctx) }()
	id = insert(t, c, db, effectArgs{Key: "interrupted"}, nil)
	<-started
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, "available", jobState(t, db, id))
	var attempt int
	require.NoError(t, db.Get(&attempt, `SELECT attempt FROM river_job WHERE id = $1`, id))
	require.Zero(t, attempt, "an interrupted attempt is not counted")
	require.Zero(t, count(t, db, "interrupted"))

	goleak.VerifyNone(t, ignore)

	// The next client runs it.
	_, stop := run(t, testConfig(db, workers(&effectWorker{db: db, ran: ran})))
	waitRan(t, ran, "interrupted", 10*time.Second)
	waitState(t, db, id, "completed", 10*time.Second)
	require.Equal(t, 1, count(t, db, "interrupted"))
	stop()
	goleak.VerifyNone(t, ignore)
}
