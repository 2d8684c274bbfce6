#!/usr/bin/env bash
# One-command, idempotent setup: .venv with the project and test tools, plus the pinned Pulumi CLI
# and its language hosts (scripts/toolchain.env).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3.11}"
source scripts/toolchain.env
log() { printf '[bootstrap] %s\n' "$*" >&2; }

# 1. Python virtualenv with pinned dependencies (re-installed only when the pins change), and the
#    package itself, installed as users get it (not editable: an editable install hides the package's
#    pulumi-plugin.json from the Python language host), re-installed whenever provider/ changes.
stamp=".venv/.bootstrap-$(cat requirements-dev.txt provider/pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  command -v "$PYTHON" >/dev/null || { log "$PYTHON not found; set PYTHON=/path/to/python3.11"; exit 1; }
  [ -x .venv/bin/python ] || { log "creating .venv ($($PYTHON --version))"; "$PYTHON" -m venv .venv; }
  log "installing the pinned dependencies into .venv (about 40 s the first time)"
  .venv/bin/python -m pip install --disable-pip-version-check --progress-bar off \
    -r requirements-dev.txt "./provider[emulator]" ./provider/emulator-dist 2>&1 \
    | grep --line-buffered -E '^(Collecting|Installing|Successfully|ERROR)' | sed -u 's/^/[bootstrap]   /' >&2
  [ "${PIPESTATUS[0]}" -eq 0 ] || { log "pip install failed"; exit 1; }
  rm -f .venv/.bootstrap-* .venv/.package-*; touch "$stamp"
fi
package=".venv/.package-$(.venv/bin/python scripts/package_hash.py)"
if [ ! -f "$package" ]; then
  log "installing the package from provider/ into .venv (and the emulator's, provider/emulator-dist)"
  .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps --force-reinstall \
    --no-build-isolation ./provider ./provider/emulator-dist >/dev/null || { log "pip install ./provider failed"; exit 1; }
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

# 3. PostgreSQL server binaries, for the shared-backend tests (installed from Debian if missing).
if [ -x scripts/ensure-postgres.sh ]; then
  scripts/ensure-postgres.sh >/dev/null || { log "PostgreSQL server binaries are missing and could not be installed"; exit 1; }
fi
scripts/node-deps.sh >/dev/null  # 4. the TypeScript smoke test's npm packages (cached per set of pins)
log "ready: $(.venv/bin/python --version), pulumi $(.pulumi-bin/pulumi version) with language hosts in $bin"
