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

command -v apt-get >/dev/null 2>&1 || {
  log "Chromium not found, and there is no apt-get to install it: install Chromium (or Google Chrome) and set"
  log "COPYAI_CHROMIUM to its executable"
  exit 1
}
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  log "Chromium not found; installing it needs root: run 'sudo apt-get install -y chromium' (or this script as"
  log "root), or set COPYAI_CHROMIUM to a Chromium executable"
  exit 1
fi

apt_install() {
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
}
log "Chromium not found; installing Debian's chromium package (a minute or two)"
if ! apt_install chromium; then
  log "apt-get install failed; refreshing the package lists and retrying"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
  apt_install chromium || { log "could not install chromium with apt-get (see the output above)"; exit 1; }
fi

find_chromium || { log "installed chromium, yet no chromium executable is on PATH"; exit 1; }
