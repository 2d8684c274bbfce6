#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl, postgres) are installed, and print their directory
# on the last line of stdout. The tests' PostgreSQL fixture (tests/postgres.py) starts its own throwaway server
# from that directory; this script never starts or configures a server itself.
#
#   scripts/ensure-postgres.sh        # e.g. prints /usr/lib/postgresql/15/bin
#
# When the binaries are missing it installs Debian's server package (postgresql-15, else postgresql) with apt-get,
# as root or through sudo. Idempotent; when the binaries are present it only looks and returns at once.
# Env: PG_BINDIR: a directory to use instead of looking (it must hold the three programs).
set -euo pipefail

log() { printf '[ensure-postgres] %s\n' "$*" >&2; }

has_server() {  # $1 = directory
  [ -n "$1" ] && [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]
}

find_bindir() {
  local dir
  if [ -n "${PG_BINDIR:-}" ]; then
    has_server "$PG_BINDIR" && { echo "$PG_BINDIR"; return 0; }
    log "PG_BINDIR=$PG_BINDIR does not hold initdb, pg_ctl and postgres"
    return 2
  fi
  # pg_config (from libpq-dev) names the bin directory of the matching server, which may not be installed.
  if command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir 2>/dev/null || true)"
    has_server "$dir" && { echo "$dir"; return 0; }
  fi
  # Debian's layout without pg_config: prefer 15, then the newest installed major version.
  for dir in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4nr); do
    has_server "$dir" && { echo "$dir"; return 0; }
  done
  return 1
}

status=0
find_bindir || status=$?
[ "$status" -eq 0 ] && exit 0
[ "$status" -eq 2 ] && exit 1

# shellcheck source=lib/apt-install.sh
source "$(dirname "$0")/lib/apt-install.sh"
apt_install_first "PostgreSQL server binaries (initdb, pg_ctl, postgres)" \
  "set PG_BINDIR to the directory that holds them" --no-install-recommends postgresql-15 postgresql || exit 1

find_bindir || { log "installed PostgreSQL, yet initdb, pg_ctl and postgres are still not found"; exit 1; }
