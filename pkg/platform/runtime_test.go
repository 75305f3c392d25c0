package platform_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/pkg/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

type reminderArgs struct {
	ThingID int64 `json:"thing_id"`
}

func (reminderArgs) Kind() string { return "reminder" }

type reminderWorker struct {
	river.WorkerDefaults[reminderArgs]
	db *sqlx.DB
}

func (w *reminderWorker) Work(ctx context.Context, job *river.Job[reminderArgs]) error {
	return pgdb.InTx(ctx, w.db, nil, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO reminded (thing_id) VALUES ($1)`, job.Args.ThingID); err != nil {
			return err
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// demo is a service that schedules a durable job 14 days after a POST, in
// the POST's transaction: the shape scheduling, billing and followup use.
var demo = platform.Define(platform.Definition[struct{}]{
	Name: "demo",
	Migrations: []pgdb.MigrationSource{{Name: "demo", Dir: ".", FS: fstest.MapFS{
		"0001_demo.up.sql": {Data: []byte(`CREATE TABLE things (id bigserial PRIMARY KEY);
			CREATE TABLE reminded (thing_id bigint PRIMARY KEY);`)},
	}}},
	Config: func(func(string) string) (struct{}, error) { return struct{}{}, nil },
	Build: func(ctx context.Context, rt *platform.Runtime, _ struct{}) error {
		workers := river.NewWorkers()
		river.AddWorker(workers, &reminderWorker{db: rt.DB})
		jc, err := rt.UseJobs(ctx, workers, jobs.Config{})
		if err != nil {
			return err
		}
		rt.Router.Handle("POST /v1/things", func(w http.ResponseWriter, r *http.Request) error {
			return pgdb.InTx(r.Context(), rt.DB, nil, func(tx *sqlx.Tx) error {
				var id int64
				if err := tx.GetContext(r.Context(), &id, `INSERT INTO things DEFAULT VALUES RETURNING id`); err != nil {
					return err
				}
				_, err := jc.InsertTx(r.Context(), tx, reminderArgs{ThingID: id},
					&river.InsertOpts{ScheduledAt: rt.Now().Add(14 * 24 * time.Hour)})
				if err != nil {
					return err
				}
				w.WriteHeader(http.StatusCreated)
				return nil
			})
		}, httpx.RoleAdmin)
		return nil
	},
})

func TestServiceJobsRunOnTheProcessClock(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	s := testharness.StartService(t, demo, func(o *platform.Options) {
		o.Clock = fake
		o.Jobs.FetchPollInterval = 20 * time.Millisecond
	})
	require.Equal(t, fake.Now(), s.Runtime.Now())
	require.Equal(t, http.StatusCreated, s.Do(t, httpx.RoleAdmin, http.MethodPost, "/v1/things", nil).Status)
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'reminder'`))

	fake.Advance(13 * 24 * time.Hour)
	// Several polls pass; the job is not due yet.
	time.Sleep(200 * time.Millisecond) //nolint:forbidigo // proving absence: nothing to wait on
	require.Zero(t, s.Count(t, `SELECT count(*) FROM reminded`))

	fake.Advance(24*time.Hour + time.Minute)
	testharness.Eventually(t, 10*time.Second, func() bool { return s.Count(t, `SELECT count(*) FROM reminded`) == 1 })
}

func TestServiceDeclaresWhatItConsumes(t *testing.T) {
	t.Parallel()
	liar := platform.Define(platform.Definition[struct{}]{
		Name:     "liar",
		Consumes: []string{"clinicops.intake.v1.PatientRegistered"},
		Config:   func(func(string) string) (struct{}, error) { return struct{}{}, nil },
		Build:    func(context.Context, *platform.Runtime, struct{}) error { return nil },
	})
	n := testharness.StartNATS(t)
	_, dsn := testharness.DB(t, liar.AllMigrations()...)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = liar.New(t.Context(), platform.Options{Config: platform.Config{HTTPAddr: addr, DatabaseURL: dsn, NATSURL: n.Server.ClientURL()},
		Tokens: tokens(t), Log: testharness.Logger()})
	require.ErrorContains(t, err, "registers handlers for []")
	// The failed start let go of its port.
	l, err = net.Listen("tcp", addr)
	require.NoError(t, err, "a service that failed to start still holds %s", addr)
	require.NoError(t, l.Close())
}

func tokens(t *testing.T) *httpx.TokenStore {
	ts, err := httpx.NewTokenStore(map[httpx.Role][]string{httpx.RoleAdmin: {httpx.GenerateToken()}})
	require.NoError(t, err)
	return ts
}

// TestSecondReplicaStartsWhileTheFirstRelays: a replica that uses jobs
// migrates River at start while another replica's relay holds its leader
// lock; the two locks must not be one (the second replica would never
// start).
func TestSecondReplicaStartsWhileTheFirstRelays(t *testing.T) {
	t.Parallel()
	first := testharness.StartService(t, demo)
	testharness.Eventually(t, 10*time.Second, func() bool {
		return first.Count(t, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted`, pgdb.LockRelay) == 1
	}, "the first replica's relay leads")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cfg := first.Runtime.Config
	cfg.HTTPAddr = "127.0.0.1:0"
	second, err := demo.New(ctx, platform.Options{Config: cfg, Tokens: tokens(t), Log: testharness.Logger()})
	require.NoError(t, err, "the second replica starts")
	done := make(chan error, 1)
	go func() { done <- second.Run(ctx) }()
	cancel()
	require.NoError(t, <-done)
}
