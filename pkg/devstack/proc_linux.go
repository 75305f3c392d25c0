//go:build linux

package devstack

import "syscall"

// serverSysProcAttr runs a long-lived server: in its own process group (a
// terminal's Ctrl-C reaches only us; we stop the server ourselves) and with a
// parent death signal so it shuts down if we die without stopping it. SIGINT is
// PostgreSQL's "fast shutdown": clean, no crash recovery on the next start.
func serverSysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGINT}
}

// toolSysProcAttr runs a short-lived tool (initdb): it dies with us.
func toolSysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
