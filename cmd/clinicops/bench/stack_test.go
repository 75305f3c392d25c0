package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clinicops/clinicops/pkg/devstack"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
)

// Bench migrations: the producer's business table and the consumer's effect
// table. They come after messaging.Migrations (outbox, processed_events).
var (
	producerMigrations = pgdb.MigrationSource{Name: "bench_intake", Dir: ".", FS: fstest.MapFS{
		"0001_things.up.sql": {Data: []byte(`CREATE TABLE things (id uuid PRIMARY KEY, payload jsonb NOT NULL);`)},
	}}
	consumerMigrations = pgdb.MigrationSource{Name: "bench_scheduling", Dir: ".", FS: fstest.MapFS{
		"0001_effects.up.sql": {Data: []byte(`CREATE TABLE effects (id uuid PRIMARY KEY, applied int NOT NULL);`)},
	}}
)

// logger gets the platform's warnings and errors only (stderr), so that
// stdout carries the BENCH lines and little else.
func logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("CLINICOPS_BENCH_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// startCluster starts the durable cluster every phase runs on: fsync,
// synchronous_commit and full_page_writes on, data under os.TempDir() (a real
// disk, not tmpfs), as the ceilings in docs/performance.md were measured.
func startCluster(ctx context.Context, log *slog.Logger) (*devstack.Postgres, error) {
	if _, err := devstack.EnsurePostgresInstalled(ctx, log); err != nil {
		return nil, err
	}
	return devstack.StartPostgres(ctx, devstack.PostgresOptions{Durable: true, Logger: log})
}

// startStack starts a durable Postgres cluster and an embedded JetStream
// server with the clinicops streams, both stopped when b ends.
func startStack(b *testing.B, log *slog.Logger) (*devstack.Postgres, *jsServer) {
	b.Helper()
	ctx := context.Background()
	pg, err := startCluster(ctx, log)
	if err != nil {
		b.Fatalf("start durable postgres: %v", err)
	}
	b.Cleanup(func() { _ = pg.Stop() })
	js, err := startJetStream(ctx, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(js.close)
	return pg, js
}

// database is one service database created for one phase.
type database struct {
	name string
	dsn  string
	db   *sqlx.DB
	pg   *devstack.Postgres
}

// freshDB (re)creates database name, migrates it and opens a pool.
func freshDB(ctx context.Context, pg *devstack.Postgres, name string, pool int, sources ...pgdb.MigrationSource) (*database, error) {
	if err := pg.DropDatabase(ctx, name); err != nil {
		return nil, err
	}
	if err := pg.CreateDatabase(ctx, name, ""); err != nil {
		return nil, err
	}
	dsn := pg.DSN(name)
	db, err := pgdb.Open(ctx, dsn, pgdb.PoolConfig{MaxOpenConns: pool})
	if err != nil {
		return nil, err
	}
	if err := pgdb.Migrate(ctx, db, sources...); err != nil {
		_ = db.Close()
		return nil, err
	}
	return &database{name: name, dsn: dsn, db: db, pg: pg}, nil
}

// drop closes the pool and drops the database.
func (d *database) drop() {
	if d == nil {
		return
	}
	_ = d.db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = d.pg.DropDatabase(ctx, d.name)
}

// jsServer is an embedded JetStream server created for one phase, with its
// own store in a temporary directory and the clinicops streams.
type jsServer struct {
	srv   *devstack.NATS
	conns []*nats.Conn
	dir   string
}

func startJetStream(ctx context.Context, log *slog.Logger) (*jsServer, error) {
	dir, err := os.MkdirTemp("", "clinicops-bench-nats-")
	if err != nil {
		return nil, err
	}
	srv, err := devstack.StartNATS(devstack.NATSOptions{StoreDir: dir, Logger: log})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &jsServer{srv: srv, dir: dir}
	js, err := s.connect()
	if err != nil {
		s.close()
		return nil, err
	}
	if err := messaging.EnsureStreams(ctx, js, messaging.StreamConfig{Services: []string{"intake", "followup"}}); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// connect opens one more client connection (each service has its own).
func (s *jsServer) connect(opts ...jetstream.JetStreamOpt) (jetstream.JetStream, error) {
	nc, err := nats.Connect(s.srv.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		return nil, err
	}
	s.conns = append(s.conns, nc)
	return jetstream.New(nc, opts...)
}

func (s *jsServer) close() {
	for _, nc := range s.conns {
		nc.Close()
	}
	s.srv.Shutdown()
	_ = os.RemoveAll(s.dir)
}

// cpuMeter tells where CPU time went during a phase: this Go process (the
// benchmark's producers, the relay, the processor and the embedded
// nats-server), the PostgreSQL server (postmaster and its children), and the
// whole machine from /proc/stat (busy share of all cores, and within it the
// kernel's softirq time, mostly loopback TCP between client and servers,
// which no process is charged with; steal is time the hypervisor took).
type cpuMeter struct {
	pgPID int
	start time.Time
	self  time.Duration
	pg    map[int]time.Duration
	stat  []float64
}

type cpuUsage struct {
	Wall     time.Duration
	Self     time.Duration // CPU of this process
	Postgres time.Duration // CPU of the postgres server processes
	BusyPct  float64       // machine, % of all cores
	IOWait   float64       // machine, % of all cores
	SoftIRQ  float64       // machine, % of all cores
	Steal    float64       // machine, % of all cores
}

// OursPct is the share of the machine (all cores) that this process and
// postgres used; the rest of BusyPct is other processes and kernel work
// charged to no process.
func (u cpuUsage) OursPct() float64 {
	return 100 * (u.Self + u.Postgres).Seconds() / (u.Wall.Seconds() * float64(numCPU()))
}

func (u cpuUsage) String() string {
	return fmt.Sprintf("wall %.1fs; cpu: go process %.1fs, postgres %.1fs; machine busy %.0f%% of %d cores, go+postgres %.0f%%; softirq %.0f%%, steal %.0f%%, iowait %.0f%%",
		u.Wall.Seconds(), u.Self.Seconds(), u.Postgres.Seconds(), u.BusyPct, numCPU(), u.OursPct(), u.SoftIRQ, u.Steal, u.IOWait)
}

func newCPUMeter(pg *devstack.Postgres) *cpuMeter {
	m := &cpuMeter{pgPID: postmasterPID(pg)}
	m.reset()
	return m
}

func (m *cpuMeter) reset() {
	m.start = time.Now()
	m.self = selfCPU()
	m.pg = processTreeCPU(m.pgPID)
	m.stat = machineCPU()
}

// since returns the usage since the last reset.
func (m *cpuMeter) since() cpuUsage {
	u := cpuUsage{Wall: time.Since(m.start), Self: selfCPU() - m.self}
	for pid, t := range processTreeCPU(m.pgPID) {
		u.Postgres += t - m.pg[pid] // a backend born in the phase starts at 0
	}
	now := machineCPU()
	if len(now) < 8 || len(m.stat) < 8 {
		return u
	}
	d := make([]float64, 8) // user nice system idle iowait irq softirq steal
	var total float64
	for i := range d {
		d[i] = now[i] - m.stat[i]
		total += d[i]
	}
	if total > 0 {
		u.BusyPct = 100 * (total - d[3] - d[4]) / total
		u.IOWait = 100 * d[4] / total
		u.SoftIRQ = 100 * d[6] / total
		u.Steal = 100 * d[7] / total
	}
	return u
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postmasterPID reads the first line of postmaster.pid.
func postmasterPID(pg *devstack.Postgres) int {
	b, err := os.ReadFile(filepath.Join(pg.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

const clockTicks = 100 // USER_HZ on Linux

// processTreeCPU returns utime+stime of pid and its direct children (the
// postmaster's backends and auxiliary processes) from /proc.
func processTreeCPU(root int) map[int]time.Duration {
	out := map[int]time.Duration{}
	if root == 0 {
		return out
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the parenthesised command name: state ppid ... utime(14) stime(15).
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if pid != root && ppid != root {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(ut+st) * time.Second / clockTicks
	}
	return out
}

// machineCPU returns the first line of /proc/stat: jiffies of all cores in
// user, nice, system, idle, iowait, irq, softirq, steal (guest time is
// already in user).
func machineCPU() []float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return nil
	}
	out := make([]float64, 8)
	for i := range out {
		out[i], _ = strconv.ParseFloat(f[i+1], 64)
	}
	return out
}

// waitSampler samples pg_stat_activity every 5 ms while a phase runs and
// tells what the client backends of the bench databases were doing: on CPU,
// waiting for the client (ClientRead: a round trip), for the WAL flush
// (IO:WALSync and LWLock:WALWrite), or for a lock (Lock:object is the
// cluster-wide lock NOTIFY takes at commit).
func waitSampler(ctx context.Context, pg *devstack.Postgres) (stop func() string, err error) {
	db, err := pgdb.Open(ctx, pg.DSN("postgres"), pgdb.PoolConfig{MaxOpenConns: 1})
	if err != nil {
		return nil, err
	}
	const q = `SELECT CASE WHEN state = 'active' THEN coalesce(wait_event_type || ':' || wait_event, 'CPU')
		ELSE state || ':' || coalesce(wait_event, '') END
		FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND datname IN ('intake', 'scheduling') AND pid <> pg_backend_pid()`
	counts := map[string]int{}
	samples := 0
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var states []string
			if err := db.SelectContext(ctx, &states, q); err != nil {
				continue
			}
			samples++
			for _, s := range states {
				counts[s]++
			}
		}
	}()
	return func() string {
		close(done)
		<-finished
		_ = db.Close()
		type kv struct {
			k string
			v int
		}
		var all []kv
		for k, v := range counts {
			all = append(all, kv{k, v})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
		var b strings.Builder
		fmt.Fprintf(&b, "backend states over %d samples (mean backends per state):", samples)
		for i, e := range all {
			if i == 8 {
				break
			}
			fmt.Fprintf(&b, " %s %.2f;", e.k, float64(e.v)/float64(max(samples, 1)))
		}
		return b.String()
	}, nil
}
