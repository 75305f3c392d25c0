package devstack

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

const (
	defaultHost             = "127.0.0.1"
	defaultPGOSUser         = "postgres"
	defaultMaxConnections   = 200
	pgSuperuser             = "postgres" // initdb -U, whatever the OS user
	pgReadyTimeout          = 30 * time.Second
	pgStopTimeout           = 15 * time.Second
	pgStalePostmasterWait   = 10 * time.Second
	pgFreePortAttempts      = 3
	pgLogTailLines          = 20
	pgMaxIdentifierLength   = 63 // NAMEDATALEN-1; longer names are silently truncated
	pgAdminDatabase         = "postgres"
	pgLogFileName           = "postgres.log"
	pgDurableLogDir         = "log"
	pgVersionFile           = "PG_VERSION"
	pgPostmasterPIDFileName = "postmaster.pid"
)

// PostgresOptions configures StartPostgres. The zero value starts a
// throwaway cluster tuned for tests.
type PostgresOptions struct {
	// DataDir is the cluster directory. Empty means a fresh temporary
	// directory, removed by Stop. An existing cluster (PG_VERSION present) is
	// reused; an empty or missing directory gets a new cluster.
	DataDir string
	// Host is the address to listen on. Default 127.0.0.1.
	Host string
	// Port is the TCP port. 0 picks a free one; Restart keeps it.
	Port int
	// Durable keeps PostgreSQL's crash-safety settings (make run keeps user
	// data). false turns off fsync, synchronous_commit and full_page_writes:
	// fast, and a machine crash may corrupt the cluster (a process crash does
	// not), which is fine for tests.
	Durable bool
	// OSUser is the account the server runs as when we are root (PostgreSQL
	// refuses to run as root). Default "postgres". Ignored when not root: the
	// server then runs as the current user.
	OSUser string
	// Logger receives lifecycle events (ports, paths, pids, timings; no SQL
	// and no data). Default slog.Default(). The server's own log goes to a
	// file, never to our stdout: see Postgres.LogFile.
	Logger *slog.Logger
	// MaxConnections is max_connections. Default 200.
	MaxConnections int
	// TempDir is where the temporary directories go (socket dir, and the
	// cluster when DataDir is empty). Default os.TempDir(). A tmpfs such as
	// /dev/shm makes a throwaway cluster several times faster (initdb,
	// CREATE DATABASE) at the cost of RAM. As root it must be reachable by
	// OSUser.
	TempDir string
}

// Postgres is a PostgreSQL server started by StartPostgres, a child of this
// process. Its methods are safe for concurrent use.
type Postgres struct {
	log      *slog.Logger
	binDir   string
	host     string
	port     int // fixed once StartPostgres returns
	durable  bool
	maxConns int
	owner    *osUser // nil: run as ourselves
	runDir   string  // our temp dir: socket dir, and the data dir when temporary
	sockDir  string
	dataDir  string
	tempData bool
	logPath  string

	mu      sync.Mutex
	proc    *child  // the running postmaster, nil when not running
	admin   *sql.DB // connection to the "postgres" database, nil when not running
	stopped bool
}

// StartPostgres starts a PostgreSQL server and returns once it accepts
// connections (at most 30 s). ctx bounds the start only, not the server's
// life: call Stop. When we are root the cluster is owned by and the server
// runs as opts.OSUser.
//
// A postmaster.pid left in opts.DataDir by an earlier run is handled: if it
// names a live postgres serving that directory (another dev process, or a
// parent that died where there is no parent death signal) that server is
// stopped and it is logged; if its process is dead, PostgreSQL replaces the
// file itself (orphaned backends still holding the shared memory are killed
// first); if the pid now belongs to an unrelated process, the file is removed.
// A port taken by another process is an error naming the port.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "devstack.postgres")
	begin := time.Now()

	binDir, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	owner, err := resolveServerUser(opts.OSUser)
	if err != nil {
		return nil, err
	}
	p := &Postgres{
		log:      log,
		binDir:   binDir,
		host:     opts.Host,
		port:     opts.Port,
		durable:  opts.Durable,
		maxConns: opts.MaxConnections,
		owner:    owner,
	}
	if p.host == "" {
		p.host = defaultHost
	}
	if p.maxConns <= 0 {
		p.maxConns = defaultMaxConnections
	}
	if p.port < 0 || p.port > 65535 {
		return nil, fmt.Errorf("start postgres: invalid port %d", p.port)
	}
	autoPort := p.port == 0

	// Fail before a slow initdb. Not when the data dir has a postmaster.pid:
	// the port may be held by this cluster's own server from a run that was
	// just killed (still shutting down on its parent-death signal), which the
	// stale-server handling below stops first.
	if !autoPort && !hasPostmasterPid(opts.DataDir) {
		if err := checkPortFree("postgres", p.host, p.port); err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
	}

	tempDir := opts.TempDir
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	sweepRunDirs(log, tempDir, pgRunDirPrefix)
	if p.runDir, err = newRunDir(tempDir, pgRunDirPrefix, owner); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(p.runDir)
		}
	}()
	p.sockDir = filepath.Join(p.runDir, "sock")
	if err := p.mkdirOwned(p.sockDir); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if opts.DataDir == "" {
		p.dataDir = filepath.Join(p.runDir, "data")
		p.tempData = true
		p.logPath = filepath.Join(p.runDir, pgLogFileName)
	} else {
		if p.dataDir, err = filepath.Abs(opts.DataDir); err != nil {
			return nil, fmt.Errorf("start postgres: data dir: %w", err)
		}
		p.logPath = filepath.Join(p.dataDir, pgDurableLogDir, pgLogFileName)
	}

	initStart := time.Now()
	initialized, err := p.ensureCluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	initTook := time.Since(initStart)
	if !p.tempData {
		if err := p.mkdirOwned(filepath.Dir(p.logPath)); err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
	}

	serverStart := time.Now()
	var c *child
	for attempt := 1; ; attempt++ {
		if autoPort {
			if p.port, err = freePort(p.host); err != nil {
				return nil, fmt.Errorf("start postgres: %w", err)
			}
		}
		c, err = p.start(ctx)
		if err == nil {
			break
		}
		// Someone took the port between our probe and postgres' bind.
		if autoPort && errors.Is(err, errPortInUse) && attempt < pgFreePortAttempts {
			log.Debug("port taken, retrying with another", "port", p.port)
			continue
		}
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	ok = true
	attrs := []any{
		"port", p.port, "pid", c.pid, "data_dir", p.dataDir, "temporary", p.tempData, "durable", p.durable,
		"start_ms", time.Since(serverStart).Milliseconds(), "total_ms", time.Since(begin).Milliseconds(),
	}
	if initialized {
		attrs = append(attrs, "initdb_ms", initTook.Milliseconds())
	}
	if owner != nil {
		attrs = append(attrs, "os_user", owner.name)
	}
	log.Info("postgres started", attrs...)
	return p, nil
}

// DSN is a lib/pq URL for database as the superuser "postgres" (trust
// authentication, sslmode=disable).
func (p *Postgres) DSN(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(pgSuperuser),
		Host:     net.JoinHostPort(p.host, strconv.Itoa(p.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the TCP port the server listens on; it stays the same across
// Restart.
func (p *Postgres) Port() int { return p.port }

// DataDir is the absolute path of the cluster directory.
func (p *Postgres) DataDir() string { return p.dataDir }

// LogFile is the server's log file (appended to across restarts when the
// data dir is durable).
func (p *Postgres) LogFile() string { return p.logPath }

// SocketDir is the Unix socket directory (`psql -h <SocketDir> -p <Port> -U postgres`).
func (p *Postgres) SocketDir() string { return p.sockDir }

// EnsureDatabase creates database name unless it exists.
func (p *Postgres) EnsureDatabase(ctx context.Context, name string) error {
	if err := validateDatabaseName(name); err != nil {
		return err
	}
	db, err := p.adminDB()
	if err != nil {
		return err
	}
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("ensure database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	if pq.As(err, pqerror.DuplicateDatabase) != nil {
		return nil // created concurrently
	}
	if err != nil {
		return fmt.Errorf("ensure database %s: %w", name, err)
	}
	p.log.Debug("database created", "database", name)
	return nil
}

// CreateDatabase creates database name as a copy of template (default
// template1). It fails if the database exists, or if anyone is connected to
// the template: close template connections (or use them only for migrating)
// before creating test databases from it.
func (p *Postgres) CreateDatabase(ctx context.Context, name, template string) error {
	if err := validateDatabaseName(name); err != nil {
		return err
	}
	q := "CREATE DATABASE " + pq.QuoteIdentifier(name)
	if template != "" {
		if err := validateDatabaseName(template); err != nil {
			return err
		}
		q += " TEMPLATE " + pq.QuoteIdentifier(template)
	}
	db, err := p.adminDB()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// DropDatabase drops database name if it exists, disconnecting its sessions.
func (p *Postgres) DropDatabase(ctx context.Context, name string) error {
	if err := validateDatabaseName(name); err != nil {
		return err
	}
	db, err := p.adminDB()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown: sessions are disconnected,
// committed data is kept), waits for it to exit (SIGKILL after 15 s) and
// removes the temporary directories. The Postgres cannot be restarted after
// Stop. Calling Stop again does nothing.
func (p *Postgres) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	p.stopped = true
	p.closeAdmin()
	err := p.shutdown()
	if rmErr := os.RemoveAll(p.runDir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", p.runDir, rmErr))
	}
	p.log.Info("postgres stopped", "port", p.port, "data_dir_removed", p.tempData)
	return err
}

// Kill simulates a crash: SIGKILL to the postmaster and all its backends,
// leaving the data dir (and its postmaster.pid) as they are. Restart brings
// the server back through crash recovery.
func (p *Postgres) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return errors.New("kill postgres: already stopped")
	}
	p.closeAdmin()
	c := p.proc
	p.proc = nil
	if c == nil || c.exited() {
		return nil
	}
	if err := p.kill(c); err != nil {
		return fmt.Errorf("kill postgres: %w", err)
	}
	p.log.Info("postgres killed", "port", p.port, "pid", c.pid)
	return nil
}

// Restart starts the server again on the same data dir and the same port,
// shutting it down first if it is running. After Kill this goes through crash
// recovery. It fails with an error naming the port if another process took
// the port meanwhile.
func (p *Postgres) Restart(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return errors.New("restart postgres: already stopped")
	}
	p.closeAdmin()
	if err := p.shutdown(); err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	begin := time.Now()
	c, err := p.start(ctx)
	if err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	p.log.Info("postgres restarted", "port", p.port, "pid", c.pid, "start_ms", time.Since(begin).Milliseconds())
	return nil
}

// pid is the running postmaster's pid, 0 when not running.
func (p *Postgres) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	return p.proc.pid
}

// adminDB returns the pool connected to the "postgres" database.
func (p *Postgres) adminDB() (*sql.DB, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.admin == nil {
		return nil, errors.New("postgres is not running")
	}
	return p.admin, nil
}

// closeAdmin closes the admin pool; its connections die with the server.
func (p *Postgres) closeAdmin() {
	if p.admin != nil {
		_ = p.admin.Close()
		p.admin = nil
	}
}

// shutdown stops the running postmaster, if any: SIGINT (fast shutdown),
// then SIGKILL to its process group after pgStopTimeout.
func (p *Postgres) shutdown() error {
	c := p.proc
	p.proc = nil
	if c == nil || c.exited() {
		return nil
	}
	if err := c.signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("stop postgres pid %d: %w", c.pid, err)
	}
	if c.wait(pgStopTimeout) {
		return nil
	}
	p.log.Warn("postgres did not stop in time; killing it", "pid", c.pid, "timeout", pgStopTimeout)
	return p.kill(c)
}

// kill sends SIGKILL to the postmaster and all its children and waits until
// they are gone.
func (p *Postgres) kill(c *child) error {
	if err := c.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill postgres pid %d: %w", c.pid, err)
	}
	if !c.wait(10 * time.Second) {
		return fmt.Errorf("postgres pid %d still running 10s after SIGKILL", c.pid)
	}
	if !killCluster(p.dataDir, 10*time.Second) {
		return fmt.Errorf("postgres backends of pid %d still running 10s after SIGKILL", c.pid)
	}
	return nil
}

// mkdirOwned creates dir (mode 0700) and gives it to the server user.
func (p *Postgres) mkdirOwned(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return p.owner.chown(dir)
}

// ensureCluster prepares the data dir and runs initdb unless it already holds
// a cluster. It reports whether it ran initdb.
func (p *Postgres) ensureCluster(ctx context.Context) (bool, error) {
	if err := p.owner.checkReachable(p.dataDir); err != nil {
		return false, err
	}
	_, err := os.Stat(filepath.Join(p.dataDir, pgVersionFile))
	switch {
	case err == nil:
		return false, p.fixDataDirOwnership()
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	entries, err := os.ReadDir(p.dataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if len(entries) > 0 {
		return false, fmt.Errorf("data dir %s is not empty and holds no PostgreSQL cluster (no %s): move it away or choose another", p.dataDir, pgVersionFile)
	}
	return true, p.initdb(ctx)
}

// fixDataDirOwnership hands an existing cluster to the server user and makes
// it 0700: PostgreSQL refuses a data dir with the wrong owner or a
// group/world-accessible mode (a dir created by root, or restored by cp -r).
func (p *Postgres) fixDataDirOwnership() error {
	owned, err := p.owner.owns(p.dataDir)
	if err != nil {
		return err
	}
	if !owned {
		if p.owner == nil {
			return fmt.Errorf("data dir %s belongs to another user: PostgreSQL runs as the data dir's owner", p.dataDir)
		}
		p.log.Warn("data dir not owned by the server user; changing its owner", "data_dir", p.dataDir, "os_user", p.owner.name)
		if err := p.owner.chownTree(p.dataDir); err != nil {
			return err
		}
	}
	fi, err := os.Stat(p.dataDir)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm != 0o700 && perm != 0o750 {
		if err := os.Chmod(p.dataDir, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// initdb creates a cluster in a sibling directory and renames it into place,
// so a run interrupted during initdb never leaves a half-made cluster behind.
func (p *Postgres) initdb(ctx context.Context) error {
	parent := filepath.Dir(p.dataDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(p.dataDir)+".initdb-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	var out []byte
	for _, locale := range []string{"C.UTF-8", "C"} {
		if err := os.RemoveAll(tmp); err != nil {
			return err
		}
		if err := p.mkdirOwned(tmp); err != nil {
			return err
		}
		cmd := exec.Command(filepath.Join(p.binDir, "initdb"),
			"-D", tmp, "-A", "trust", "-E", "UTF8", "--locale="+locale, "-U", pgSuperuser, "--no-sync")
		cmd.Dir = "/" // our working directory may be unreadable by the server user
		cmd.Env = childEnv()
		cmd.SysProcAttr = toolSysProcAttr(p.owner.credential())
		out, err = runTool(ctx, cmd)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("initdb: %w", ctx.Err())
		}
		if locale == "C.UTF-8" && strings.Contains(strings.ToLower(string(out)), "locale") {
			p.log.Debug("initdb: locale C.UTF-8 unsupported, falling back to C")
			continue
		}
		return fmt.Errorf("initdb: %w\n%s", err, tail(string(out), pgLogTailLines))
	}
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, tail(string(out), pgLogTailLines))
	}
	if err := os.Remove(p.dataDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace empty data dir: %w", err)
	}
	if err := os.Rename(tmp, p.dataDir); err != nil {
		return fmt.Errorf("move new cluster into place: %w", err)
	}
	return nil
}

// start launches the postmaster on p.port and waits until it accepts
// connections. The caller holds p.mu or owns p exclusively.
func (p *Postgres) start(ctx context.Context) (*child, error) {
	if err := p.clearStalePostmaster(); err != nil {
		return nil, err
	}
	if err := checkPortFree("postgres", p.host, p.port); err != nil {
		return nil, err
	}

	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	defer func() { _ = logFile.Close() }() // the child has its own descriptor
	logStart, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}

	args := []string{
		"-D", p.dataDir,
		"-h", p.host, // -h is listen_addresses
		"-p", strconv.Itoa(p.port),
		"-k", p.sockDir,
		"-c", "max_connections=" + strconv.Itoa(p.maxConns),
	}
	if !p.durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(p.binDir, "postgres"), args...)
	cmd.Dir = "/"
	cmd.Env = childEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = serverSysProcAttr(p.owner.credential())
	c, err := startChild(cmd)
	if err != nil {
		return nil, fmt.Errorf("run postgres: %w", err)
	}

	db, err := p.waitReady(ctx, c, logStart)
	if err != nil {
		if killErr := p.kill(c); killErr != nil {
			p.log.Warn("could not kill postgres after a failed start", "pid", c.pid, "err", killErr)
		}
		return nil, err
	}
	p.proc = c
	p.admin = db
	go p.watch(c)
	return c, nil
}

// watch reports a server that exits without being asked to (a crash, an
// OOM kill, another run taking over the data dir). Stop, Kill and Restart
// clear p.proc before the process exits, so they are not reported.
func (p *Postgres) watch(c *child) {
	<-c.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != c {
		return
	}
	p.proc = nil
	p.closeAdmin()
	p.log.Error("postgres exited unexpectedly", "pid", c.pid, "port", p.port, "err", c.err, "log_file", p.logPath)
}

// waitReady polls until the server answers SELECT 1, the process exits, ctx
// ends or pgReadyTimeout passes. It returns the admin pool.
func (p *Postgres) waitReady(ctx context.Context, c *child, logStart int64) (*sql.DB, error) {
	connector, err := pq.NewConnector(p.DSN(pgAdminDatabase))
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxIdleConns(2)
	ctx, cancel := context.WithTimeout(ctx, pgReadyTimeout)
	defer cancel()

	wait := time.Millisecond
	var lastErr error
	for {
		pingCtx, pingCancel := context.WithTimeout(ctx, 2*time.Second)
		var one int
		lastErr = db.QueryRowContext(pingCtx, "SELECT 1").Scan(&one)
		pingCancel()
		if lastErr == nil {
			return db, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-c.done:
			t.Stop()
			_ = db.Close()
			return nil, p.earlyExitError(c, logStart)
		case <-ctx.Done():
			t.Stop()
			_ = db.Close()
			return nil, fmt.Errorf("postgres on port %d not ready: %w (last error: %v); last log lines:\n%s",
				p.port, ctx.Err(), lastErr, p.logTail(logStart))
		case <-t.C:
		}
		wait = min(wait*2, 25*time.Millisecond)
	}
}

// earlyExitError explains why the server exited during start-up.
func (p *Postgres) earlyExitError(c *child, logStart int64) error {
	logTail := p.logTail(logStart)
	if strings.Contains(logTail, "Address already in use") {
		return fmt.Errorf("postgres: port %d on %s is taken by another process: %w\n%s", p.port, p.host, errPortInUse, logTail)
	}
	return fmt.Errorf("postgres exited during start-up (%v); last lines of %s:\n%s", c.err, p.logPath, logTail)
}

// logTail returns the last lines the server wrote since offset.
func (p *Postgres) logTail(offset int64) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "(server log: " + err.Error() + ")"
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return "(server log: " + err.Error() + ")"
	}
	return tail(string(b), pgLogTailLines)
}

// clearStalePostmaster deals with a postmaster.pid left by an earlier run.
func (p *Postgres) clearStalePostmaster() error {
	pidFile := filepath.Join(p.dataDir, pgPostmasterPIDFileName)
	pid, err := readPostmasterPID(p.dataDir)
	if err != nil || pid == 0 {
		return err
	}
	switch inspectPostgresPID(pid, p.dataDir) {
	case procGone:
		// PostgreSQL replaces a lock file whose process is gone, but not while
		// orphaned backends of that postmaster keep its shared memory.
		p.log.Info("stale postmaster.pid from a crashed run; postgres will replace it", "pid", pid, "data_dir", p.dataDir)
		if orphans := clusterProcesses(p.dataDir); len(orphans) > 0 {
			p.log.Warn("killing orphaned backends of the crashed server", "count", len(orphans))
			if !killCluster(p.dataDir, 5*time.Second) {
				return fmt.Errorf("orphaned postgres processes in %s survived SIGKILL", p.dataDir)
			}
		}
		// A killed postmaster whose parent died too is a zombie until init
		// reaps it (late, or never where pid 1 does not reap, as in some
		// containers); kill(pid, 0) still succeeds on a zombie, so
		// PostgreSQL would refuse to start ("lock file already exists").
		if zombie, err := isZombie(pid); err == nil && zombie {
			p.log.Info("the crashed postmaster is a zombie; removing its postmaster.pid", "pid", pid)
			if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove stale %s: %w", pidFile, err)
			}
		}
		return nil
	case procOther:
		// The pid was reused by an unrelated process; PostgreSQL would
		// refuse to start ("lock file already exists").
		p.log.Warn("postmaster.pid names a process that is not a postgres on this data dir; removing the stale file", "pid", pid, "data_dir", p.dataDir)
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", pidFile, err)
		}
		return nil
	case procOurs:
		p.log.Warn("a postgres from an earlier run still serves this data dir; stopping it", "pid", pid, "data_dir", p.dataDir)
		return stopStalePostmaster(pid, p.dataDir)
	default:
		// Cannot tell (no /proc, or another user's process): let
		// PostgreSQL decide and report.
		return nil
	}
}

// stopStalePostmaster stops a postmaster that is not our child: fast
// shutdown, then SIGKILL to all its processes after 10 s.
func stopStalePostmaster(pid int, dataDir string) error {
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop stale postgres pid %d: %w", pid, err)
	}
	if waitGone(pid, pgStalePostmasterWait) {
		return nil
	}
	if !killCluster(dataDir, 5*time.Second) {
		return fmt.Errorf("stale postgres pid %d survived SIGKILL", pid)
	}
	return nil
}

// readPostmasterPID returns the pid on the first line of dataDir's
// postmaster.pid, or 0 if there is no such file.
func readPostmasterPID(dataDir string) (int, error) {
	f, err := os.Open(filepath.Join(dataDir, pgPostmasterPIDFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, nil // empty: being written, or truncated by a crash
	}
	pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	if err != nil {
		return 0, nil
	}
	return pid, nil
}

// validateDatabaseName rejects names PostgreSQL would refuse or silently
// truncate.
func validateDatabaseName(name string) error {
	switch {
	case name == "":
		return errors.New("database name is empty")
	case len(name) > pgMaxIdentifierLength:
		return fmt.Errorf("database name %q is longer than %d bytes", name, pgMaxIdentifierLength)
	case strings.ContainsRune(name, 0):
		return errors.New("database name contains a NUL byte")
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// hasPostmasterPid reports whether dataDir holds a postmaster.pid.
func hasPostmasterPid(dataDir string) bool {
	if dataDir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dataDir, pgPostmasterPIDFileName))
	return err == nil
}
