#!/usr/bin/env bash
# Make sure a Chromium the dashboard's browser tests can drive is installed, and print its path on the last line
# of stdout. The tests (tests/browser.py) drive it with Playwright's Python package; Playwright's own browser
# download is not used (it is unreachable on closed networks), Debian's `chromium` package is.
#
#   scripts/ensure-chromium.sh        # e.g. prints /usr/bin/chromium
#
# When it is missing it installs Debian's chromium with apt-get, as root or through sudo. Idempotent; when it is
# present it only looks and returns at once.
# Env: COPYAI_CHROMIUM: a Chromium executable to use instead of looking.
set -euo pipefail

log() { printf '[ensure-chromium] %s\n' "$*" >&2; }

find_chromium() {
  if [ -n "${COPYAI_CHROMIUM:-}" ]; then
    [ -x "$COPYAI_CHROMIUM" ] && { echo "$COPYAI_CHROMIUM"; return 0; }
    log "COPYAI_CHROMIUM=$COPYAI_CHROMIUM is not an executable"
    return 2
  fi
  local found
  for name in chromium chromium-browser; do
    found="$(command -v "$name" 2>/dev/null || true)"
    [ -n "$found" ] && { echo "$found"; return 0; }
  done
  return 1
}

status=0
find_chromium || status=$?
[ "$status" -eq 0 ] && exit 0
[ "$status" -eq 2 ] && exit 1

# shellcheck source=lib/apt-install.sh
source "$(dirname "$0")/lib/apt-install.sh"
apt_install_first "Chromium" "set COPYAI_CHROMIUM to a Chromium executable" chromium || exit 1

find_chromium || { log "installed chromium, yet no chromium executable is on PATH"; exit 1; }
