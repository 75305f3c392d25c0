package devstack

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	// Prefixes of the temporary directories we create under os.TempDir().
	pgRunDirPrefix   = "clinicops-pg-"
	natsRunDirPrefix = "clinicops-nats-"
	// ownerFile in a temporary directory holds the pid of the process that
	// created it, so a later run can remove it once that process is gone.
	ownerFile = "devstack-owner.pid"
)

// newRunDir creates a temporary directory in parent (os.TempDir() by
// default, not t.TempDir(), whose 0700 root-owned parent the postgres user
// cannot enter), records our pid in it and gives it to u.
func newRunDir(parent, prefix string, u *osUser) (string, error) {
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", fmt.Errorf("create temp dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("create temp dir: %w", err)
	}
	if err := u.chown(dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	if err := u.checkReachable(dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("temp dir: %w", err)
	}
	return dir, nil
}

// sweepRunDirs removes temporary directories left by processes that died
// without cleaning up (a test binary killed on timeout, kill -9 of `clinicops
// dev`). A directory is removed only when the process that created it is gone
// and no postmaster still runs in it. Best effort: errors are logged.
func sweepRunDirs(log *slog.Logger, parent, prefix string) {
	dirs, err := filepath.Glob(filepath.Join(parent, prefix+"*"))
	if err != nil {
		return
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, or being created right now
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || alive(pid) {
			continue
		}
		if pgPID, _ := readPostmasterPID(filepath.Join(dir, "data")); pgPID > 0 && alive(pgPID) {
			continue // its server is still shutting down
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("could not remove temp dir left by a crashed run", "dir", dir, "err", err)
			continue
		}
		log.Info("removed temp dir left by a crashed run", "dir", dir, "owner_pid", pid)
	}
}

// freePort asks the kernel for a free TCP port on host. Another process may
// take it before we use it; callers retry on "address in use".
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// errPortInUse marks "the port is taken by someone else".
var errPortInUse = errors.New("port already in use")

// checkPortFree fails with errPortInUse, naming the port, when something
// already listens on host:port.
func checkPortFree(what, host string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s: port %d on %s is taken by another process: %w", what, port, host, errPortInUse)
		}
		return fmt.Errorf("%s: cannot listen on %s: %w", what, net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	return l.Close()
}
