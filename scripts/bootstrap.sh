#!/usr/bin/env bash
# One-command, idempotent setup, in two lanes:
#
#   scripts/bootstrap.sh          what `make up` needs (`make bootstrap`): .venv with the package and its runtime pins
#                                 (the pulumi SDK, requests, the emulator's starlette/uvicorn/httpx, ...), and the
#                                 pinned Pulumi CLI with its language hosts (scripts/toolchain.env)
#   scripts/bootstrap.sh --test   also the test tools of requirements-dev.txt (pytest, ruff, mypy, schemathesis,
#                                 matplotlib, playwright, ...), PostgreSQL server binaries, the TypeScript tests' npm
#                                 packages and Debian's chromium for the dashboard's browser tests
#                                 (`make bootstrap-test`, run by `make test`, `make lint`, `make bench`, ...)
#
# .venv is a copy of a virtualenv template built once per machine, lane, set of pins and Python in
# ${COPYAI_VENV_CACHE:-${XDG_CACHE_HOME:-~/.cache}/pulumi-copyai/venvs} (the pins and the package's dependencies,
# not the package), so a fresh clone on a machine that has run this before copies it (a second or two) and installs
# only the package itself. The package is installed as users get it (not editable: an editable install hides its
# pulumi-plugin.json from the Python language host), again whenever provider/ changes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3.11}"
source scripts/toolchain.env
log() { printf '[bootstrap] %s\n' "$*" >&2; }

lane=runtime
case "${1:-}" in
  "") ;;
  --test) lane=test ;;
  *) log "usage: scripts/bootstrap.sh [--test]"; exit 2 ;;
esac
RECIPE=3  # bump when the way a venv is built changes
# The pins `make up` needs (a subset of requirements-dev.txt, the one list of pins): the SDK, the package's runtime
# dependencies, the emulator's, and setuptools to install the package from provider/.
RUNTIME_PINS='^(pulumi|requests|urllib3|tenacity|pexpect|starlette|uvicorn|httpx|setuptools)=='
VENVS="${COPYAI_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-copyai/venvs}"

pins() {  # $1 = lane: its requirement lines
  if [ "$1" = test ]; then cat requirements-dev.txt; else grep -E "$RUNTIME_PINS" requirements-dev.txt; fi
}
pins_hash() {  # $1 = lane: what its .venv stamp depends on
  { echo "recipe $RECIPE $1"; pins "$1"; cat provider/pyproject.toml; } | sha256sum | cut -c1-16
}

# 1. The Python virtualenv. Current when it carries the stamp of this lane (or of the test lane, a superset).
current() { [ -f ".venv/.bootstrap-test-$(pins_hash test)" ] || { [ "$lane" = runtime ] && [ -f ".venv/.bootstrap-runtime-$(pins_hash runtime)" ]; }; }

template_dir() {  # $1 = lane: the template's directory for these pins and this interpreter
  local id
  id="$("$PYTHON" -c 'import os, sys; print(".".join(map(str, sys.version_info[:3])), os.path.realpath(sys.executable))')"
  echo "$VENVS/$1-py${id%% *}-$({ echo "$id"; pins_hash "$1"; } | sha256sum | cut -c1-12)"
}

build_template() {  # $1 = lane, $2 = directory: the venv with the lane's pins and the package's dependencies
  local lane="$1" dir="$2" tmp started=$SECONDS
  tmp="$(mktemp -d "$dir.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  log "building the $lane virtualenv for these pins once on this machine (later clones copy it): $dir"
  "$PYTHON" -m venv "$tmp"
  pins "$lane" >"$tmp/.pins.txt"
  # From a copy of provider/, so that the build leaves nothing in the checkout.
  mkdir "$tmp/.src"
  tar -C provider --exclude=build --exclude=dist --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$tmp/.src" -xf -
  if ! "$tmp/bin/python" -m pip install --disable-pip-version-check --progress-bar off -r "$tmp/.pins.txt" \
      "$tmp/.src" "$tmp/.src/emulator-dist" 2>&1 | { grep --line-buffered -E '^(Collecting|Installing|Successfully|ERROR)' || true; } \
      | sed -u 's/^/[bootstrap]   /' >&2; then
    log "pip install failed"; exit 1
  fi
  "$tmp/bin/python" -m pip uninstall --disable-pip-version-check -y -q pulumi-copyai pulumi-copyai-emulator >&2  # each clone installs its own
  rm -rf "$tmp/.src"
  echo "$tmp" >"$tmp/.origin"  # the path its scripts name, replaced in every copy
  touch "$tmp/.complete"
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"  # a concurrent run may have put its copy there first
  trap - EXIT
  [ -f "$dir/.complete" ] || { log "could not move the virtualenv into $dir"; exit 1; }
  log "built the $lane virtualenv in $((SECONDS - started)) s"
}

copy_template() {  # $1 = template directory: .venv becomes a copy of it, its paths rewritten
  local template="$1" origin
  origin="$(cat "$template/.origin")"
  rm -rf .venv.tmp
  cp -a --reflink=auto "$template" .venv.tmp
  # Scripts (shebangs, activate) and pyvenv.cfg name the template's path; nothing in site-packages does.
  local from to
  from="$(printf '%s' "$origin" | sed 's/[][\\.*^$|]/\\&/g')" to="$(printf '%s' "$ROOT/.venv" | sed 's/[\\&|]/\\&/g')"
  grep -rlIF -- "$origin" .venv.tmp/bin .venv.tmp/pyvenv.cfg | while IFS= read -r f; do
    sed -i "s|$from|$to|g" "$f"
  done
  rm -f .venv.tmp/.origin .venv.tmp/.complete .venv.tmp/.pins.txt
  rm -rf .venv && mv .venv.tmp .venv
  touch "$template/.complete"  # marks it recently used
}

if ! current; then
  command -v "$PYTHON" >/dev/null || { log "$PYTHON not found; set PYTHON=/path/to/python3.11"; exit 1; }
  started=$SECONDS
  mkdir -p "$VENVS"
  template="$(template_dir "$lane")"
  exec {lock}>"$VENVS/.$lane.lock"
  flock "$lock"
  [ -f "$template/.complete" ] || build_template "$lane" "$template"
  copy_template "$template"
  exec {lock}>&-
  touch ".venv/.bootstrap-$lane-$(pins_hash "$lane")"
  log ".venv: a copy of $template in $((SECONDS - started)) s"
  # Keep the 2 most recently used templates of each lane; drop half-built ones left by an interrupted run.
  find "$VENVS" -maxdepth 1 -name '*.tmp.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
  for l in runtime test; do
    { ls -t "$VENVS/$l-py"*/.complete 2>/dev/null || true; } | tail -n +3 | while read -r stale; do rm -rf "$(dirname "$stale")"; done
  done
fi
package=".venv/.package-$(.venv/bin/python scripts/package_hash.py)"
if [ ! -f "$package" ]; then
  log "installing the package from provider/ into .venv (and the emulator's, provider/emulator-dist)"
  # One after the other: both put files under pulumi_copyai/, and a reinstall of the first must not
  # remove the second's.
  for dist in ./provider ./provider/emulator-dist; do
    .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps --force-reinstall \
      --no-build-isolation "$dist" >/dev/null || { log "pip install $dist failed"; exit 1; }
  done
  rm -rf provider/build provider/*.egg-info provider/emulator-dist/build provider/emulator-dist/*.egg-info
  rm -f .venv/.package-*; touch "$package"
fi

# 2. The Pulumi CLI and language hosts: a complete install on PATH wins (a user's own Pulumi,
#    with its bundled hosts), else the cached build from the Go module proxy.
system_pulumi="$(command -v pulumi 2>/dev/null || true)"
if [ -n "$system_pulumi" ] && [ "$(readlink -f "$system_pulumi")" != "$(readlink -f .pulumi-bin/pulumi 2>/dev/null)" ] \
   && [ "$("$system_pulumi" version 2>/dev/null)" = "$PULUMI_CLI_VERSION" ] \
   && [ -x "$(dirname "$system_pulumi")/pulumi-language-python" ]; then
  bin="$(dirname "$system_pulumi")"
else
  bin="$(scripts/build-toolchain.sh | tail -1)"
fi
# A stable link inside the repository, so scripts/env.sh needs no lookups.
ln -sfn "$bin" .pulumi-bin

if [ "$lane" = test ]; then
  # 3. PostgreSQL server binaries, for the shared-backend tests (installed from Debian if missing).
  scripts/ensure-postgres.sh >/dev/null || { log "PostgreSQL server binaries are missing and could not be installed"; exit 1; }
  scripts/node-deps.sh >/dev/null  # 4. the TypeScript smoke test's npm packages (cached per set of pins)
  # 5. Chromium, for the emulator dashboard's browser tests (Debian's package, driven by Playwright's Python package).
  scripts/ensure-chromium.sh >/dev/null || { log "Chromium is missing and could not be installed"; exit 1; }
fi
holds="runtime pins"; [ -f ".venv/.bootstrap-test-$(pins_hash test)" ] && holds="runtime pins and test tools"
log "ready: .venv with $(.venv/bin/python --version) and the $holds, pulumi $(.pulumi-bin/pulumi version) with language hosts in $bin"
