#!/usr/bin/env bash
# One-command, idempotent setup: .venv with the project and test tools, plus the pinned Pulumi CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3.11}"
PULUMI_CLI_VERSION="${PULUMI_CLI_VERSION:-v3.274.1}"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

# 1. Python virtualenv with pinned dependencies; re-installed only when the pins change.
stamp=".venv/.bootstrap-$(cat requirements-dev.txt provider/pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  command -v "$PYTHON" >/dev/null || { log "$PYTHON not found; set PYTHON=/path/to/python3.11"; exit 1; }
  [ -x .venv/bin/python ] || { log "creating .venv ($($PYTHON --version))"; "$PYTHON" -m venv .venv; }
  log "installing pinned dependencies into .venv"
  .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt -e "./provider[emulator]"
  rm -f .venv/.bootstrap-*; touch "$stamp"
fi

# 2. The Pulumi CLI: a compatible one on PATH wins, else the cached build from the Go module proxy.
want="${PULUMI_CLI_VERSION#v}"
if command -v pulumi >/dev/null 2>&1 && [ "$(pulumi version 2>/dev/null)" = "v$want" ] \
   && [ "$(command -v pulumi)" != "$ROOT/.pulumi-bin/pulumi" ]; then
  bin="$(dirname "$(command -v pulumi)")"
else
  bin="$(scripts/build-pulumi-cli.sh | tail -1)"
fi
# A stable link inside the repository, so scripts/env.sh needs no lookups.
ln -sfn "$bin" .pulumi-bin
log "ready: $(.venv/bin/python --version), pulumi $(.pulumi-bin/pulumi version) in $bin"
