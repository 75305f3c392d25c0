package devstack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// osUser is the unprivileged account PostgreSQL runs as when we are root.
type osUser struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
}

// resolveServerUser returns the account to run PostgreSQL as, or nil to run as
// ourselves. PostgreSQL refuses to run as root, so only root switches users;
// anyone else runs the server as themselves (and cannot switch anyway).
func resolveServerUser(name string) (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if name == "" {
		name = defaultPGOSUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as another OS user, and user %q does not exist (installing the postgresql package creates it; or set PostgresOptions.OSUser): %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %q has uid 0: PostgreSQL refuses to run as root", name)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	ou := &osUser{name: name, uid: uint32(uid), gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.ParseUint(s, 10, 32); err == nil {
				ou.groups = append(ou.groups, uint32(g))
			}
		}
	}
	return ou, nil
}

// credential is the SysProcAttr credential for the user; nil means "as we are".
func (u *osUser) credential() *syscall.Credential {
	if u == nil {
		return nil
	}
	// Groups is set even when empty: an empty list drops root's supplementary
	// groups instead of inheriting them.
	return &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: append([]uint32{}, u.groups...)}
}

// chown gives path to the user; a no-op when u is nil.
func (u *osUser) chown(path string) error {
	if u == nil {
		return nil
	}
	if err := os.Lchown(path, int(u.uid), int(u.gid)); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, u.name, err)
	}
	return nil
}

// chownTree gives a whole directory tree to the user.
func (u *osUser) chownTree(root string) error {
	if u == nil {
		return nil
	}
	return filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return u.chown(path)
	})
}

// owns reports whether path is owned by the user (by us when u is nil).
func (u *osUser) owns(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true, nil
	}
	want := uint32(os.Geteuid())
	if u != nil {
		want = u.uid
	}
	return st.Uid == want, nil
}

// checkReachable verifies the user may traverse every existing ancestor of
// path. As root it is easy to pick a directory (anything under /root, or a
// t.TempDir(), which is 0700) that the postgres user cannot even reach; the
// server would then fail with a less helpful message.
func (u *osUser) checkReachable(path string) error {
	if u == nil {
		return nil
	}
	dir := filepath.Dir(path)
	for {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Created by us later with mode 0755.
		case err != nil:
			return err
		default:
			if !u.canSearch(fi) {
				return fmt.Errorf("%s is not reachable by OS user %q: %s has mode %v (choose a directory under %s, or give others search permission: chmod o+x %s)",
					path, u.name, dir, fi.Mode().Perm(), os.TempDir(), dir)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// canSearch applies the owner/group/other execute bits of fi to the user.
func (u *osUser) canSearch(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	if st.Uid == u.uid {
		return perm&0o100 != 0
	}
	if st.Gid == u.gid || slices.Contains(u.groups, st.Gid) {
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}
