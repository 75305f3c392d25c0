#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries are installed: installs them with
# apt-get when it can (as root, or with passwordless sudo), otherwise stops
# with one line saying what to install. PG_BIN overrides the search.
set -euo pipefail

have_pg() {
  if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ]; then return 0; fi
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && return 0
  done
  command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/postgres" ] && return 0
  command -v postgres >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1 && return 0
  return 1
}

have_pg && exit 0

if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "PostgreSQL server binaries not found: install them with 'sudo apt-get install -y postgresql' (or set PG_BIN)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries not found and apt-get is missing: install PostgreSQL 15+ (or set PG_BIN)" >&2
  exit 1
fi
echo "installing the PostgreSQL server with apt-get ..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq postgresql >/dev/null
have_pg || { echo "PostgreSQL install did not provide server binaries" >&2; exit 1; }
