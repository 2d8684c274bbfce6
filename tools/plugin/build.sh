#!/usr/bin/env bash
# Build the copyai plugin tarball for `pulumi plugin install resource copyai <version> --file <tarball>`:
#
#   pulumi-resource-copyai   launcher (sh): runs plugin.py with the interpreter named in PYTHON
#   plugin.py                puts lib/ first on sys.path and serves the provider
#   PYTHON                   the interpreter lib/ was built for, e.g. python3.11
#   lib/                     pulumi-copyai and its dependencies (pip install --target), pinned by
#                            requirements-dev.txt (pulumi, requests, urllib3, ...)
#
#   tools/plugin/build.sh [OUT_DIR]     # default dist/; prints the tarball's path
#
# lib/ holds compiled wheels (grpcio, pyyaml, ...), so a tarball is specific to the OS, CPU and CPython
# minor version it was built with: pulumi-resource-copyai-v<version>-<os>-<arch>.tar.gz.
# Env: PYTHON (default: the repository's .venv/bin/python, else python3).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tools/plugin"
out="$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
log() { printf '[plugin] %s\n' "$*" >&2; }

version="$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
  "$root/provider/pyproject.toml")"
pyname="$("$python" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')"
os="$(uname -s | tr '[:upper:]' '[:lower:]')"
case "$(uname -m)" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
tarball="$out/pulumi-resource-copyai-v$version-$os-$arch.tar.gz"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
log "pip install --target lib/ ./provider with $pyname ($python)"
# From a copy, so that the build leaves nothing in provider/.
mkdir -p "$stage/src" "$stage/root"
tar -C "$root/provider" --exclude=build --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$stage/src" -xf -
"$python" -m pip install --quiet --disable-pip-version-check --no-compile --target "$stage/root/lib" \
  --constraint "$root/requirements-dev.txt" "$stage/src" >&2
rm -rf "$stage/root/lib/bin"   # console scripts with this machine's shebangs; the launcher replaces them
install -m 0755 "$here/pulumi-resource-copyai" "$stage/root/pulumi-resource-copyai"
install -m 0644 "$here/plugin.py" "$stage/root/plugin.py"
echo "$pyname" > "$stage/root/PYTHON"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' \
  -czf "$tarball.tmp" -C "$stage/root" .
mv "$tarball.tmp" "$tarball"
log "$(du -h "$tarball" | cut -f1) $tarball"
echo "$tarball"
