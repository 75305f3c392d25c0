package devstack

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/stretchr/testify/require"
)

func connect(t testing.TB, dsn string) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Connect("postgres", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestPostgresThrowawayCluster(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)

	begin := time.Now()
	pg := startTestPostgres(t, PostgresOptions{})
	t.Logf("StartPostgres (initdb + start): %v", time.Since(begin))

	require.NotZero(t, pg.Port())
	require.FileExists(t, filepath.Join(pg.DataDir(), "PG_VERSION"))
	require.Contains(t, pg.DSN("app"), "sslmode=disable")

	t.Run("runs as the postgres OS user when we are root", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("not root")
		}
		u, err := user.Lookup("postgres")
		require.NoError(t, err)
		fi, err := os.Stat(pg.DataDir())
		require.NoError(t, err)
		require.Equal(t, u.Uid, strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)))
		require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pg.pid()))
		require.NoError(t, err)
		require.Regexp(t, `(?m)^Uid:\s+`+u.Uid+`\s`, string(status))
	})

	t.Run("test settings are on", func(t *testing.T) {
		db := connect(t, pg.DSN("postgres"))
		for setting, want := range map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200"} {
			var got string
			require.NoError(t, db.Get(&got, "SHOW "+setting))
			require.Equal(t, want, got, setting)
		}
	})

	t.Run("EnsureDatabase is idempotent and quotes names", func(t *testing.T) {
		for _, name := range []string{"app", `We"ird-Name`} {
			require.NoError(t, pg.EnsureDatabase(ctx, name))
			require.NoError(t, pg.EnsureDatabase(ctx, name))
			db := connect(t, pg.DSN(name))
			var current string
			require.NoError(t, db.Get(&current, "SELECT current_database()"))
			require.Equal(t, name, current)
		}
	})

	t.Run("CreateDatabase from a template, DropDatabase", func(t *testing.T) {
		require.NoError(t, pg.CreateDatabase(ctx, "tmpl", ""))
		tmpl := connect(t, pg.DSN("tmpl"))
		_, err := tmpl.Exec(`CREATE TABLE patient_ids (id int PRIMARY KEY); INSERT INTO patient_ids VALUES (1), (2)`)
		require.NoError(t, err)
		require.NoError(t, tmpl.Close()) // a template must have no sessions

		begin := time.Now()
		require.NoError(t, pg.CreateDatabase(ctx, "copy", "tmpl"))
		t.Logf("CreateDatabase from a template: %v", time.Since(begin))
		require.Error(t, pg.CreateDatabase(ctx, "copy", "tmpl"), "exists already")

		cp := connect(t, pg.DSN("copy"))
		var n int
		require.NoError(t, cp.Get(&n, "SELECT count(*) FROM patient_ids"))
		require.Equal(t, 2, n)

		require.NoError(t, pg.DropDatabase(ctx, "copy")) // the open session is terminated
		require.NoError(t, pg.DropDatabase(ctx, "copy"))
		_, err = sqlx.Connect("postgres", pg.DSN("copy"))
		require.NotNil(t, pq.As(err, pqerror.InvalidCatalogName), "got %v", err)
	})

	t.Run("invalid names", func(t *testing.T) {
		require.Error(t, pg.EnsureDatabase(ctx, ""))
		require.Error(t, pg.CreateDatabase(ctx, strings.Repeat("x", 64), ""))
	})

	t.Run("Stop removes the cluster and is idempotent", func(t *testing.T) {
		dataDir, runDir, pid := pg.DataDir(), pg.runDir, pg.pid()
		require.NoError(t, pg.Stop())
		require.NoError(t, pg.Stop())
		require.NoDirExists(t, dataDir)
		require.NoDirExists(t, runDir)
		require.False(t, alive(pid))
		require.Error(t, pg.Restart(ctx))
		require.Error(t, pg.EnsureDatabase(ctx, "app"))
	})
}

func TestPostgresKillRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dataDir := filepath.Join(reachableTempDir(t), "pgdata")
	pg := startTestPostgres(t, PostgresOptions{DataDir: dataDir, Durable: true})
	port := pg.Port()

	db := connect(t, pg.DSN("postgres"))
	var fsync string
	require.NoError(t, db.Get(&fsync, "SHOW fsync"))
	require.Equal(t, "on", fsync, "durable mode keeps the defaults")
	_, err := db.Exec(`CREATE TABLE visits (id int PRIMARY KEY); INSERT INTO visits VALUES (42)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	// A backend that cannot notice the crash (stopped) must die with it too.
	session := connect(t, pg.DSN("postgres"))
	var backend int
	require.NoError(t, session.Get(&backend, "SELECT pg_backend_pid()"))
	require.NoError(t, syscall.Kill(backend, syscall.SIGSTOP))

	pid := pg.pid()
	require.NoError(t, pg.Kill())
	require.False(t, alive(pid))
	require.False(t, alive(backend))
	stale, err := readPostmasterPID(dataDir)
	require.NoError(t, err)
	require.Equal(t, pid, stale, "a killed server leaves its postmaster.pid")

	begin := time.Now()
	require.NoError(t, pg.Restart(ctx))
	t.Logf("Restart after Kill (crash recovery): %v", time.Since(begin))
	require.Equal(t, port, pg.Port())

	db = connect(t, pg.DSN("postgres"))
	var id int
	require.NoError(t, db.Get(&id, "SELECT id FROM visits"))
	require.Equal(t, 42, id)

	// A plain restart of a running server also works and keeps the port.
	require.NoError(t, pg.Restart(ctx))
	require.Equal(t, port, pg.Port())
	require.NoError(t, pg.EnsureDatabase(ctx, "after_restart"))

	require.NoError(t, pg.Stop())
	require.FileExists(t, filepath.Join(dataDir, "PG_VERSION"), "Stop keeps a durable data dir")
	require.NoFileExists(t, filepath.Join(dataDir, "postmaster.pid"), "clean shutdown")
}

func TestPostgresStalePostmasterPID(t *testing.T) {
	t.Parallel()

	t.Run("left by a SIGKILLed postmaster: the next start works", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		dataDir := filepath.Join(reachableTempDir(t), "pgdata")
		first := startTestPostgres(t, PostgresOptions{DataDir: dataDir, Durable: true})
		require.NoError(t, first.EnsureDatabase(ctx, "kept"))
		// An open session whose backend cannot notice the postmaster's death
		// (stopped): it keeps the shared memory attached until killed.
		session := connect(t, first.DSN("kept"))
		var backend int
		require.NoError(t, session.Get(&backend, "SELECT pg_backend_pid()"))
		require.NoError(t, syscall.Kill(backend, syscall.SIGSTOP))
		t.Cleanup(func() { _ = syscall.Kill(backend, syscall.SIGKILL) })

		pid := first.pid()
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL)) // kill -9 of the postmaster alone
		require.Eventually(t, func() bool { return first.pid() == 0 }, 10*time.Second, 5*time.Millisecond)
		stale, err := readPostmasterPID(dataDir)
		require.NoError(t, err)
		require.Equal(t, pid, stale)
		require.False(t, alive(pid))

		second := startTestPostgres(t, PostgresOptions{DataDir: dataDir, Durable: true})
		connect(t, second.DSN("kept"))
		require.False(t, alive(backend), "the orphaned backend was killed")
	})

	t.Run("naming a live process that is not postgres: removed", func(t *testing.T) {
		t.Parallel()
		dataDir := filepath.Join(reachableTempDir(t), "pgdata")
		first := startTestPostgres(t, PostgresOptions{DataDir: dataDir, Durable: true})
		require.NoError(t, first.Kill())

		// The pid was reused: PostgreSQL alone would refuse to start
		// ("lock file already exists").
		sleeper := exec.Command("sleep", "300")
		require.NoError(t, sleeper.Start())
		t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
		rewritePostmasterPID(t, dataDir, sleeper.Process.Pid)

		second := startTestPostgres(t, PostgresOptions{DataDir: dataDir, Durable: true})
		connect(t, second.DSN("postgres"))
		require.True(t, alive(sleeper.Process.Pid), "the unrelated process is left alone")
	})

	t.Run("naming a live postgres on the same data dir: stopped", func(t *testing.T) {
		t.Parallel()
		dataDir := filepath.Join(reachableTempDir(t), "pgdata")
		first := startTestPostgres(t, PostgresOptions{DataDir: dataDir, Durable: true})
		first.mu.Lock()
		firstProc := first.proc
		first.mu.Unlock()

		second := startTestPostgres(t, PostgresOptions{DataDir: dataDir, Durable: true})
		require.True(t, firstProc.wait(time.Second), "the earlier server was stopped")
		connect(t, second.DSN("postgres"))
		require.Eventually(t, func() bool {
			_, err := first.adminDB()
			return err != nil
		}, 5*time.Second, 5*time.Millisecond, "the first Postgres noticed its server is gone")
	})
}

// rewritePostmasterPID replaces the pid on the first line of postmaster.pid.
func rewritePostmasterPID(t testing.TB, dataDir string, pid int) {
	t.Helper()
	path := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.SplitN(string(b), "\n", 2)
	lines[0] = strconv.Itoa(pid)
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600))
}

func TestPostgresPortTaken(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	_, err = StartPostgres(testContext(t), PostgresOptions{Port: port, Logger: testLogger(t)})
	require.ErrorIs(t, err, errPortInUse)
	require.ErrorContains(t, err, fmt.Sprintf("port %d", port))
}

func TestPostgresRestartPortTaken(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pg := startTestPostgres(t, PostgresOptions{TempDir: reachableTempDir(t)})
	require.True(t, strings.HasPrefix(pg.DataDir(), filepath.Dir(pg.runDir)))
	require.NoError(t, pg.Kill())

	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.Port())))
	require.NoError(t, err)
	err = pg.Restart(ctx)
	require.ErrorIs(t, err, errPortInUse)
	require.ErrorContains(t, err, fmt.Sprintf("port %d", pg.Port()))

	require.NoError(t, l.Close())
	require.NoError(t, pg.Restart(ctx))
	require.NoError(t, pg.EnsureDatabase(ctx, "back"))
}

func TestPostgresDataDirNotEmpty(t *testing.T) {
	t.Parallel()
	dataDir := reachableTempDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "notes.txt"), []byte("x"), 0o600))
	_, err := StartPostgres(testContext(t), PostgresOptions{DataDir: dataDir, Logger: testLogger(t)})
	require.ErrorContains(t, err, "not empty")
}

func TestPostgresUnreachableDataDirAsRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root can pick a directory the server user cannot reach")
	}
	dataDir := filepath.Join(t.TempDir(), "pgdata") // t.TempDir() is 0700 root
	_, err := StartPostgres(testContext(t), PostgresOptions{DataDir: dataDir, Logger: testLogger(t)})
	require.ErrorContains(t, err, "not reachable by OS user")
}

// TestPostgresDiesWithParent kills (SIGKILL) a process that started a
// server and checks that the parent death signal stops the server and that
// the next run removes the temporary directory left behind.
func TestPostgresDiesWithParent(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPostgresParent$", "-test.v=false")
	cmd.Env = append(os.Environ(), "DEVSTACK_HELPER=1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // the helper exits on EOF if we die first
	require.NoError(t, err)
	t.Cleanup(func() { _ = stdin.Close() })
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var pid int
	var runDir string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "READY %d %s", &pid, &runDir); err == nil {
			break
		}
	}
	require.NotZero(t, pid, "helper did not start postgres")
	require.True(t, alive(pid))
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	require.Eventually(t, func() bool { return !alive(pid) }, 15*time.Second, 10*time.Millisecond,
		"postgres survived its parent")
	require.DirExists(t, runDir, "nobody cleaned up yet")
	sweepRunDirs(testLogger(t), os.TempDir(), pgRunDirPrefix)
	require.NoDirExists(t, runDir)
}

// TestHelperPostgresParent is the process killed by TestPostgresDiesWithParent.
func TestHelperPostgresParent(t *testing.T) {
	if os.Getenv("DEVSTACK_HELPER") != "1" {
		t.Skip("helper process")
	}
	pg, err := StartPostgres(t.Context(), PostgresOptions{Logger: testLogger(t)})
	require.NoError(t, err)
	fmt.Printf("READY %d %s\n", pg.pid(), pg.runDir)
	_, _ = io.Copy(io.Discard, os.Stdin) // until killed
}

// BenchmarkPostgresCreateDatabase measures creating a database from a small
// migrated template, the per-test cost of "one database per test".
func BenchmarkPostgresCreateDatabase(b *testing.B) {
	cases := []struct {
		name string
		opts PostgresOptions
	}{
		{"throwaway", PostgresOptions{}},
		{"throwaway_tmpfs", PostgresOptions{TempDir: "/dev/shm"}},
		{"durable", PostgresOptions{Durable: true}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if tc.opts.TempDir != "" {
				if _, err := os.Stat(tc.opts.TempDir); err != nil {
					b.Skip(err)
				}
			}
			ctx := testContext(b)
			pg := startTestPostgres(b, tc.opts)
			require.NoError(b, pg.CreateDatabase(ctx, "tmpl", ""))
			tmpl := connect(b, pg.DSN("tmpl"))
			_, err := tmpl.Exec(`CREATE TABLE t (id int PRIMARY KEY, body text); CREATE INDEX ON t (body)`)
			require.NoError(b, err)
			require.NoError(b, tmpl.Close())
			for i := 0; b.Loop(); i++ {
				require.NoError(b, pg.CreateDatabase(ctx, fmt.Sprintf("db_%d", i), "tmpl"))
			}
		})
	}
}

// BenchmarkStartPostgres measures StartPostgres (initdb + start) and Stop of a
// throwaway cluster.
func BenchmarkStartPostgres(b *testing.B) {
	for _, tempDir := range []string{"", "/dev/shm"} {
		b.Run("tempdir="+tempDir, func(b *testing.B) {
			if tempDir != "" {
				if _, err := os.Stat(tempDir); err != nil {
					b.Skip(err)
				}
			}
			log := slog.New(slog.DiscardHandler)
			for b.Loop() {
				pg, err := StartPostgres(b.Context(), PostgresOptions{TempDir: tempDir, Logger: log})
				require.NoError(b, err)
				require.NoError(b, pg.Stop())
			}
		})
	}
}
