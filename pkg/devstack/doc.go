// Package devstack starts the real dependencies of clinicops inside the current
// process tree: a throwaway or durable PostgreSQL cluster (the Debian server
// binaries, run as an unprivileged OS user when we are root) and an embedded
// nats-server with JetStream.
//
// It serves two callers: `clinicops dev` (make run), which keeps user data in a
// durable data directory, and tests, which want fast disposable servers.
//
// Servers are children of the calling process. They are started with a parent
// death signal, so a crashed test binary or a `kill -9` of the dev process does
// not leave a server behind, and in their own process group, so a Ctrl-C in a
// terminal reaches only us and we stop them ourselves. Temporary directories
// left by a crashed run are removed by the next run.
//
// The package is Linux-first (Pdeathsig, /proc); on other Unix systems it
// builds and works without the parent death signal.
package devstack
