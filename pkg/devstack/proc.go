package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process started by startChild.
type child struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // result of Wait; read only after done is closed
}

// startChild starts cmd from a goroutine locked to its OS thread and keeps
// that thread alive until the process exits.
//
// Why: Linux sends the parent death signal when the *thread* that forked the
// child exits, not when the process does (go.dev/issue/27505). Go may retire
// threads, so a child forked from an arbitrary goroutine could get its signal
// while we are alive and well.
func startChild(cmd *exec.Cmd) (*child, error) {
	c := &child{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine returns its thread exits, which
		// is only after the child is gone.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		c.pid = cmd.Process.Pid
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// exited reports whether the process has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process (pidfd-based in Go, so safe against pid reuse).
func (c *child) signal(sig os.Signal) error {
	if c.exited() {
		return nil
	}
	if err := c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// wait waits for the process to exit, at most timeout.
func (c *child) wait(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-t.C:
		return false
	}
}

// runTool runs a short-lived command to completion and returns its combined
// output. Cancelling ctx kills it.
func runTool(ctx context.Context, cmd *exec.Cmd) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	c, err := startChild(cmd)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.done:
		return out.Bytes(), c.err
	case <-ctx.Done():
		_ = c.cmd.Process.Kill()
		<-c.done
		return out.Bytes(), ctx.Err()
	}
}

// childEnv is our environment without PG* variables, so a developer's
// PGDATA, PGPORT, PGOPTIONS... cannot change what initdb and postgres do.
func childEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// procState is what we can tell about a pid found in a lock file.
type procState int

const (
	procGone    procState = iota // no such process (or a zombie)
	procOther                    // alive, but not a postgres working in dataDir
	procOurs                     // a postgres whose working directory is dataDir
	procUnknown                  // alive, and we cannot tell what it is
)

// inspectPostgresPID tells whether pid is a live postgres serving dataDir. The
// postmaster and its backends chdir into the data directory, which makes
// /proc/<pid>/cwd a reliable test against pid reuse.
func inspectPostgresPID(pid int, dataDir string) procState {
	if pid <= 0 {
		return procGone
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return procGone
	}
	if zombie, err := isZombie(pid); err == nil && zombie {
		return procGone
	}
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return procUnknown
	}
	if strings.TrimSpace(string(comm)) != "postgres" {
		return procOther
	}
	cwd, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "cwd"))
	if err != nil {
		return procUnknown
	}
	if sameDir(cwd, dataDir) {
		return procOurs
	}
	return procOther
}

// isZombie reads the state field of /proc/<pid>/stat.
func isZombie(pid int) (bool, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false, err
	}
	// "pid (comm) S ...": comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return b[i+2] == 'Z', nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	if zombie, err := isZombie(pid); err == nil && zombie {
		return false
	}
	return true
}

// waitGone polls until pid is gone, at most timeout.
func waitGone(pid int, timeout time.Duration) bool {
	return pollUntil(timeout, func() bool { return !alive(pid) })
}

// clusterProcesses lists the live postgres processes working in dataDir:
// the postmaster and its children. Children cannot be found through the
// process group (each calls setsid()) nor, once the postmaster is dead,
// through their parent pid; their working directory is the data dir.
// Linux only: elsewhere the list is empty.
func clusterProcesses(dataDir string) []int {
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		// A zombie has no working directory any more: Readlink fails.
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killCluster sends SIGKILL to every process of the cluster in dataDir, as
// many rounds as needed, until none is left or timeout passes. A backend
// that survives its postmaster keeps the shared memory attached, and the next
// start fails with "pre-existing shared memory block is still in use".
func killCluster(dataDir string, timeout time.Duration) bool {
	seen := map[int]bool{}
	return pollUntil(timeout, func() bool {
		for _, pid := range clusterProcesses(dataDir) {
			seen[pid] = true
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		// A dying process loses its working directory before it has fully
		// exited: wait for every process we saw.
		for pid := range seen {
			if alive(pid) {
				return false
			}
			delete(seen, pid)
		}
		return true
	})
}

// pollUntil calls cond every few milliseconds until it returns true or timeout
// passes; it reports the last result.
func pollUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	wait := 2 * time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// sameDir compares two paths after resolving symlinks.
func sameDir(a, b string) bool {
	ra, err := filepath.EvalSymlinks(a)
	if err != nil {
		ra = filepath.Clean(a)
	}
	rb, err := filepath.EvalSymlinks(b)
	if err != nil {
		rb = filepath.Clean(b)
	}
	return ra == rb
}
