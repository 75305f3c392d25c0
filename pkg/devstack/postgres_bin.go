package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrPostgresNotInstalled is returned (wrapped) when no PostgreSQL server
// binaries are found and we cannot install them.
var ErrPostgresNotInstalled = errors.New("PostgreSQL server binaries not found: install them with `sudo apt-get install -y postgresql` (or set PG_BIN)")

// debianPGRoot is where Debian's postgresql-NN packages put their binaries.
const debianPGRoot = "/usr/lib/postgresql"

// PostgresBinDir finds the directory holding the PostgreSQL server binaries
// (initdb and postgres): $PG_BIN if set, else the highest version under
// /usr/lib/postgresql/*/bin, else `pg_config --bindir`, else $PATH.
func PostgresBinDir() (string, error) {
	return findPostgresBinDir(os.Getenv("PG_BIN"), debianPGRoot)
}

func findPostgresBinDir(pgBin, debianRoot string) (string, error) {
	if pgBin != "" {
		if hasServerBinaries(pgBin) {
			return pgBin, nil
		}
		return "", fmt.Errorf("PG_BIN=%s does not contain initdb and postgres", pgBin)
	}
	if dir := highestDebianBinDir(debianRoot); dir != "" {
		return dir, nil
	}
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		// pg_config may come from libpq-dev alone, without a server.
		if out, err := exec.Command(pgConfig, "--bindir").Output(); err == nil {
			if dir := strings.TrimSpace(string(out)); hasServerBinaries(dir) {
				return dir, nil
			}
		}
	}
	if path, err := exec.LookPath("postgres"); err == nil {
		if dir := filepath.Dir(path); hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", ErrPostgresNotInstalled
}

// highestDebianBinDir returns root/<version>/bin of the highest version that
// holds the server binaries, or "".
func highestDebianBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	type candidate struct {
		version []int
		dir     string
	}
	var found []candidate
	for _, e := range entries {
		v, ok := parseVersion(e.Name())
		dir := filepath.Join(root, e.Name(), "bin")
		if ok && hasServerBinaries(dir) {
			found = append(found, candidate{v, dir})
		}
	}
	if len(found) == 0 {
		return ""
	}
	best := slices.MaxFunc(found, func(a, b candidate) int { return slices.Compare(a.version, b.version) })
	return best.dir
}

// parseVersion parses "15" or "9.6".
func parseVersion(s string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// hasServerBinaries reports whether dir holds executable initdb and postgres.
func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// EnsurePostgresInstalled returns the server binary directory, installing the
// Debian postgresql package first when the binaries are missing and we may
// (we are root, or `sudo -n` works without a password). Otherwise it returns
// an error wrapping ErrPostgresNotInstalled whose message is one line telling
// the user what to run. apt's output goes to stderr: this is meant for an
// interactive `make run`.
func EnsurePostgresInstalled(ctx context.Context, log *slog.Logger) (string, error) {
	return ensurePostgresInstalled(ctx, log, installer{
		find:    PostgresBinDir,
		isRoot:  func() bool { return os.Geteuid() == 0 },
		canSudo: func(ctx context.Context) bool { return exec.CommandContext(ctx, "sudo", "-n", "true").Run() == nil },
		hasApt:  func() bool { _, err := exec.LookPath("apt-get"); return err == nil },
		run: func(ctx context.Context, name string, args ...string) error {
			cmd := exec.CommandContext(ctx, name, args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			cmd.Stdout = os.Stderr
			cmd.Stderr = os.Stderr
			return cmd.Run()
		},
		out: os.Stderr,
	})
}

// installer holds what ensurePostgresInstalled needs from the machine, so
// tests can fake it.
type installer struct {
	find    func() (string, error)
	isRoot  func() bool
	canSudo func(context.Context) bool
	hasApt  func() bool
	run     func(ctx context.Context, name string, args ...string) error
	out     io.Writer
}

func ensurePostgresInstalled(ctx context.Context, log *slog.Logger, in installer) (string, error) {
	if log == nil {
		log = slog.Default()
	}
	dir, err := in.find()
	if err == nil || !errors.Is(err, ErrPostgresNotInstalled) {
		return dir, err
	}
	if !in.hasApt() {
		return "", ErrPostgresNotInstalled
	}
	var prefix []string
	switch {
	case in.isRoot():
	case in.canSudo(ctx):
		// sudo resets the environment: pass DEBIAN_FRONTEND through env(1).
		prefix = []string{"sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"}
	default:
		return "", ErrPostgresNotInstalled
	}
	_, _ = fmt.Fprintln(in.out, "PostgreSQL server binaries not found: installing them now with `apt-get install -y postgresql` (takes a minute)")
	log.Info("installing postgresql with apt-get", "sudo", len(prefix) > 0)
	for _, args := range [][]string{{"apt-get", "update"}, {"apt-get", "install", "-y", "postgresql"}} {
		full := append(slices.Clone(prefix), args...)
		if err := in.run(ctx, full[0], full[1:]...); err != nil {
			return "", fmt.Errorf("%s: %w (install PostgreSQL yourself: `sudo apt-get install -y postgresql`, or set PG_BIN)", strings.Join(full, " "), err)
		}
	}
	dir, err = in.find()
	if err != nil {
		return "", fmt.Errorf("after apt-get install postgresql: %w", err)
	}
	log.Info("postgresql installed", "bin_dir", dir)
	return dir, nil
}
