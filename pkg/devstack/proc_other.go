//go:build unix && !linux

package devstack

import "syscall"

// serverSysProcAttr runs a long-lived server in its own process group. There is
// no parent death signal outside Linux: a crashed parent leaves the server
// running until the next start stops it (see stale postmaster handling).
func serverSysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}

// toolSysProcAttr runs a short-lived tool (initdb).
func toolSysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
