package devstack

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeBinDir creates root/<version>/bin with the given executables.
func fakeBinDir(t *testing.T, root, version string, names ...string) string {
	t.Helper()
	dir := filepath.Join(root, version, "bin")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, n := range names {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755))
	}
	return dir
}

func TestFindPostgresBinDir(t *testing.T) {
	t.Parallel()

	t.Run("highest Debian version with both binaries", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		fakeBinDir(t, root, "9.6", "initdb", "postgres")
		want := fakeBinDir(t, root, "15", "initdb", "postgres")
		fakeBinDir(t, root, "16", "psql") // client only
		fakeBinDir(t, root, "not-a-version", "initdb", "postgres")
		got, err := findPostgresBinDir("", root)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})

	t.Run("PG_BIN wins", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		fakeBinDir(t, root, "15", "initdb", "postgres")
		pgBin := fakeBinDir(t, t.TempDir(), "custom", "initdb", "postgres")
		got, err := findPostgresBinDir(pgBin, root)
		require.NoError(t, err)
		require.Equal(t, pgBin, got)
	})

	t.Run("PG_BIN without binaries is an error", func(t *testing.T) {
		t.Parallel()
		_, err := findPostgresBinDir(t.TempDir(), t.TempDir())
		require.ErrorContains(t, err, "PG_BIN=")
		require.NotErrorIs(t, err, ErrPostgresNotInstalled)
	})

	t.Run("this machine", func(t *testing.T) {
		t.Parallel()
		dir, err := PostgresBinDir()
		require.NoError(t, err)
		require.True(t, hasServerBinaries(dir))
	})
}

func TestEnsurePostgresInstalled(t *testing.T) {
	t.Parallel()
	missing := func() (string, error) { return "", ErrPostgresNotInstalled }

	type call []string
	newInstaller := func(root, sudo bool) (*installer, *[]call, *bytes.Buffer) {
		var calls []call
		var out bytes.Buffer
		installed := false
		return &installer{
			find: func() (string, error) {
				if installed {
					return "/usr/lib/postgresql/15/bin", nil
				}
				return missing()
			},
			isRoot:  func() bool { return root },
			canSudo: func(context.Context) bool { return sudo },
			hasApt:  func() bool { return true },
			run: func(_ context.Context, name string, args ...string) error {
				calls = append(calls, append(call{name}, args...))
				if strings.Contains(strings.Join(args, " "), "install") {
					installed = true
				}
				return nil
			},
			out: &out,
		}, &calls, &out
	}

	t.Run("already installed: nothing to do", func(t *testing.T) {
		t.Parallel()
		in, calls, _ := newInstaller(true, false)
		in.find = func() (string, error) { return "/x/bin", nil }
		dir, err := ensurePostgresInstalled(t.Context(), testLogger(t), *in)
		require.NoError(t, err)
		require.Equal(t, "/x/bin", dir)
		require.Empty(t, *calls)
	})

	t.Run("root installs with apt-get and says so", func(t *testing.T) {
		t.Parallel()
		in, calls, out := newInstaller(true, false)
		dir, err := ensurePostgresInstalled(t.Context(), testLogger(t), *in)
		require.NoError(t, err)
		require.Equal(t, "/usr/lib/postgresql/15/bin", dir)
		require.Equal(t, []call{{"apt-get", "update"}, {"apt-get", "install", "-y", "postgresql"}}, *calls)
		require.Contains(t, out.String(), "installing")
	})

	t.Run("passwordless sudo installs through sudo", func(t *testing.T) {
		t.Parallel()
		in, calls, _ := newInstaller(false, true)
		_, err := ensurePostgresInstalled(t.Context(), testLogger(t), *in)
		require.NoError(t, err)
		require.Equal(t, []call{
			{"sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update"},
			{"sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "postgresql"},
		}, *calls)
	})

	t.Run("no way to install: one clear line", func(t *testing.T) {
		t.Parallel()
		in, calls, _ := newInstaller(false, false)
		_, err := ensurePostgresInstalled(t.Context(), testLogger(t), *in)
		require.ErrorIs(t, err, ErrPostgresNotInstalled)
		require.Equal(t, "PostgreSQL server binaries not found: install them with `sudo apt-get install -y postgresql` (or set PG_BIN)", err.Error())
		require.Empty(t, *calls)
	})

	t.Run("apt-get fails", func(t *testing.T) {
		t.Parallel()
		in, _, _ := newInstaller(true, false)
		in.run = func(context.Context, string, ...string) error { return errors.New("exit status 100") }
		_, err := ensurePostgresInstalled(t.Context(), testLogger(t), *in)
		require.ErrorContains(t, err, "apt-get update: exit status 100")
	})
}
