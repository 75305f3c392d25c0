package devstack

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// PostmasterPID returns the pid of the live postmaster serving dataDir, read
// from its postmaster.pid and checked against /proc (so a reused pid is never
// reported), or 0 when no postgres serves dataDir. It lets a test crash a
// cluster that another process started, such as `clinicops dev`'s.
func PostmasterPID(dataDir string) (int, error) {
	pid, err := readPostmasterPID(dataDir)
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	if pid == 0 || inspectPostgresPID(pid, dataDir) != procOurs {
		return 0, nil
	}
	return pid, nil
}

// KillCluster crashes the PostgreSQL cluster in dataDir: SIGKILL to the
// postmaster named in postmaster.pid first (so no backend is restarted and no
// shutdown checkpoint is written), then to every backend, and waits until all
// are gone. The next start goes through crash recovery. For tests of crash
// safety on a cluster this process did not start (Postgres.Kill does the same
// for our own child).
func KillCluster(dataDir string) error {
	pid, err := PostmasterPID(dataDir)
	if err != nil {
		return err
	}
	if pid != 0 {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill postmaster %d: %w", pid, err)
		}
	}
	if !killCluster(dataDir, 10*time.Second) {
		return fmt.Errorf("postgres processes in %s still running 10s after SIGKILL", dataDir)
	}
	return nil
}
