# Sourced by scripts/ensure-*.sh: install a missing system package from Debian with apt-get.
#
#   apt_install_first WHAT HINT [--no-install-recommends] PACKAGE [PACKAGE ...]
#
# Installs the first PACKAGE that apt-get can install, as root or through `sudo -n`; when none can, it refreshes
# the package lists once and tries them again. WHAT names what is missing in the messages ("Chromium"), HINT says
# what else the user can do ("set COPYAI_CHROMIUM to a Chromium executable"). Returns 1, having said why, when it
# cannot install. The caller's `log` function prints the messages.

apt_install_first() {
  local what="$1" hint="$2"; shift 2
  local options=()
  [ "${1:-}" = "--no-install-recommends" ] && { options=(--no-install-recommends); shift; }
  command -v apt-get >/dev/null 2>&1 || {
    log "$what not found, and there is no apt-get to install it: install it yourself, or $hint"
    return 1
  }
  local as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      log "$what not found; installing it needs root: run 'sudo apt-get install -y $1' (or this script as root),"
      log "or $hint"
      return 1
    fi
  fi
  local package
  try_each() {
    for package in "$@"; do
      "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${options[@]}" "$package" >&2 \
        && return 0
    done
    return 1
  }
  log "$what not found; installing Debian's $1 package"
  try_each "$@" && return 0
  log "apt-get install failed; refreshing the package lists and retrying"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
  try_each "$@" && return 0
  log "could not install $what with apt-get (see the output above)"
  return 1
}
