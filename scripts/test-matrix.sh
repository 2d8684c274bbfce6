#!/usr/bin/env bash
# `make test-matrix`: every supported Python version, each in its own virtualenv holding the pinned `pulumi`
# SDK (requirements-dev.txt) and the package, installed from a wheel of this checkout (`[emulator]` extra):
#   full (default): the pure-Python tests (client, provider and validation, recover, emulator, live tests
#                   against the emulator), then tests/test_python_versions_engine.py: every module imports, and
#                   one real-engine lifecycle through the `pulumi` CLI (create, no-diff preview, replace,
#                   refresh, destroy) whose program and dynamic provider are checked to run on that version;
#   ci:             tests/test_python_versions_engine.py only (the whole suite runs on 3.11 in `make test`).
#
#   scripts/test-matrix.sh [VERSION...]          e.g. scripts/test-matrix.sh 3.10 3.13
#   MATRIX=ci scripts/test-matrix.sh             or: make test-matrix MATRIX=ci [PYTHONS="3.12 3.13"]
#
# Interpreters: $PYTHON_3_10 (etc.) if set, else the newest ${PYENV_ROOT:-~/.pyenv}/versions/3.10.N, else
# python3.10 on PATH. A version that is not found is reported as MISSING and fails the run.
# Venvs are cached outside the repository, in ${COPYAI_MATRIX_CACHE:-${XDG_CACHE_HOME:-~/.cache}/pulumi-copyai/matrix},
# one per version and hash of (pins, provider/pyproject.toml, interpreter): re-created only when one of them
# changes; the 2 most recently used per version are kept. The package itself is re-installed from the fresh
# wheel (--no-deps, a few seconds) on every run.
set -uo pipefail

log() { printf '[test-matrix] %s\n' "$*" >&2; }

# The interpreter for version $1 (e.g. 3.10), or nothing.
find_python() {
  local v="$1" var="PYTHON_${1//./_}" root="${PYENV_ROOT:-$HOME/.pyenv}" dir
  if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
  dir="$(ls -d "$root/versions/$v".* 2>/dev/null | grep -E "/$v\.[0-9]+$" | sort -V | tail -1)"
  if [ -n "$dir" ] && [ -x "$dir/bin/python$v" ]; then echo "$dir/bin/python$v"; return; fi
  command -v "python$v" 2>/dev/null || true
}

# The tests with venv $1 (version $2) activated, and the pinned CLI and hosts on PATH.
run_pytest() {
  local venv="$1" v="$2"; shift 2
  env PATH="$venv/bin:$ROOT/.pulumi-bin:$PATH" VIRTUAL_ENV="$venv" PYTHONDONTWRITEBYTECODE=1 \
      PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
      COPYAI_MATRIX_VENV="$venv" COPYAI_MATRIX_PYTHON="$v" \
      "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
}

main() {
  cd "$(dirname "$0")/.." || exit 2
  ROOT="$PWD"
  local mode="${MATRIX:-full}" versions=("$@")
  [ ${#versions[@]} -gt 0 ] || read -r -a versions <<<"${PYTHONS:-3.10 3.11 3.12 3.13}"
  local cache="${COPYAI_MATRIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-copyai/matrix}"
  local recipe=2  # bump when the way a venv is built changes (2: the emulator is its own wheel)
  # The pure-Python tests; none of them needs the engine.
  local unit_tests=(tests/test_client.py tests/test_provider_unit.py tests/test_recover.py tests/test_emulator.py
                    tests/test_emulator_faults.py tests/test_emulator_contract.py tests/test_live_against_emulator.py)
  local engine_test=tests/test_python_versions_engine.py
  # What a version's venv takes from requirements-dev.txt (or $MATRIX_REQUIREMENTS): the SDK, the runtime
  # deps, the emulator's, pytest. A pin may carry an environment marker (`x==1.0; python_version < "3.11"`).
  local pinned='^(pulumi|requests|urllib3|tenacity|pexpect|starlette|uvicorn|httpx|pytest|pytest-timeout)=='

  case "$mode" in full|ci) ;; *) log "MATRIX=$mode: expected full or ci"; return 2 ;; esac
  if [ ! -x .pulumi-bin/pulumi ] || [ ! -x .venv/bin/python ]; then
    log "run \`make bootstrap\` first (needs .venv and .pulumi-bin)"; return 2
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  local pins="$work/pins.txt"
  grep -E "$pinned" "${MATRIX_REQUIREMENTS:-requirements-dev.txt}" >"$pins"

  # 1. One wheel of the package, built from a copy of provider/ (nothing is written into the checkout).
  mkdir -p "$work/src" "$work/dist"
  tar -C provider --exclude=build --exclude=dist --exclude='*.egg-info' --exclude=__pycache__ -cf - . \
    | tar -C "$work/src" -xf -
  local t0=$SECONDS
  if ! .venv/bin/python -m pip wheel --no-deps --quiet -w "$work/dist" "$work/src" >"$work/wheel.log" 2>&1; then
    cat "$work/wheel.log" >&2; log "building the package's wheel failed"; return 1
  fi
  # The emulator is a distribution of its own (provider/emulator-dist): its wheel satisfies the [emulator] extra.
  if ! .venv/bin/python -m pip wheel --no-deps --quiet -w "$work/dist" "$work/src/emulator-dist" >>"$work/wheel.log" 2>&1; then
    cat "$work/wheel.log" >&2; log "building the emulator's wheel failed"; return 1
  fi
  local wheel emulator_wheel
  wheel="$(ls "$work/dist"/pulumi_copyai-*.whl)"; emulator_wheel="$(ls "$work/dist"/pulumi_copyai_emulator-*.whl)"
  log "built $(basename "$wheel") in $((SECONDS - t0))s; mode $mode; versions ${versions[*]}"

  declare -A result venv_time unit_time engine_time interp
  local failed=0 v py full hash venv lock ok kind rc problems start
  for v in "${versions[@]}"; do
    start=$SECONDS
    venv_time[$v]="-"; unit_time[$v]="-"; engine_time[$v]="-"; interp[$v]="-"
    py="$(find_python "$v")"
    if [ -z "$py" ] || ! "$py" -c 'import sys' 2>/dev/null; then
      log "MISSING: Python $v is not installed (no \$PYTHON_${v//./_}, no pyenv $v.N, no python$v on PATH)"
      result[$v]="MISSING"; failed=1; continue
    fi
    full="$("$py" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))')"
    interp[$v]="$full"
    if [ "${full%.*}" != "$v" ]; then
      log "$py is Python $full, not $v"; result[$v]="FAIL (wrong interpreter)"; failed=1; continue
    fi
    hash="$( (echo "recipe $recipe"; "$py" -c 'import sys; print(sys.version)'; readlink -f "$py"
              cat "$pins" "$work/src/pyproject.toml" "$work/src/emulator-dist/pyproject.toml") | sha256sum | cut -c1-12)"
    venv="$cache/py$v-$hash"
    mkdir -p "$cache"
    exec {lock}>"$cache/py$v.lock"
    if ! flock -n "$lock"; then
      log "Python $full: waiting for another matrix run using the $v venvs"; flock "$lock"
    fi

    # 2. The venv: cold (created and filled from the pins) or warm (only the package re-installed).
    t0=$SECONDS
    ok=1
    if [ ! -f "$venv/.complete" ]; then
      log "Python $full: creating $venv"
      rm -rf "$venv"
      "$py" -m venv "$venv" && "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
          -r "$pins" "$wheel[emulator]" "$emulator_wheel" >"$work/pip-$v.log" 2>&1 || ok=0
      kind=cold
    else
      "$venv/bin/python" -m pip install --disable-pip-version-check --no-deps --force-reinstall --quiet "$wheel" "$emulator_wheel" \
        >"$work/pip-$v.log" 2>&1 || ok=0
      kind=warm
    fi
    venv_time[$v]="$((SECONDS - t0))s $kind"
    if [ $ok = 0 ]; then
      grep -E 'ERROR|rror:' "$work/pip-$v.log" | cut -c1-400 | tail -20 >&2
      log "Python $full: installing the pins and the package into $venv failed (pip's errors above)"
      result[$v]="FAIL (install)"; failed=1; exec {lock}>&-; continue
    fi
    touch "$venv/.complete"  # also marks it recently used
    # Keep the 2 most recently used venvs of this version; drop half-built ones.
    for old in "$cache/py$v-"*/; do [ -f "$old.complete" ] || [ "${old%/}" = "$venv" ] || rm -rf "$old"; done
    ls -t "$cache/py$v-"*/.complete 2>/dev/null | tail -n +3 | while read -r stale; do rm -rf "$(dirname "$stale")"; done
    log "Python $full: venv ready in ${venv_time[$v]} ($("$venv/bin/python" -m pip list --format=freeze 2>/dev/null \
        | grep -E '^(pulumi|grpcio|protobuf|pulumi-copyai)==' | tr '\n' ' '))"

    # 3. The tests.
    problems=()
    if [ "$mode" = full ]; then
      log "Python $full: unit tests"
      t0=$SECONDS
      run_pytest "$venv" "$v" -q "${unit_tests[@]}" || problems+=("unit tests")
      unit_time[$v]="$((SECONDS - t0))s"
    fi
    log "Python $full: $engine_test (imports, engine lifecycle through the pulumi CLI)"
    t0=$SECONDS
    run_pytest "$venv" "$v" -v "$engine_test" >"$work/engine-$v.log" 2>&1
    rc=$?
    engine_time[$v]="$((SECONDS - t0))s"
    cat "$work/engine-$v.log"
    # Its tests must have run and passed: a skip (e.g. COPYAI_MATRIX_VENV lost on the way) fails here.
    if [ $rc -ne 0 ] || ! grep -qE '^=+ [0-9]+ passed in ' "$work/engine-$v.log"; then problems+=("engine test"); fi
    if [ ${#problems[@]} -eq 0 ]; then result[$v]="PASS"; else result[$v]="FAIL ($(IFS=,; echo "${problems[*]}"))"; failed=1; fi
    result[$v]="${result[$v]} in $((SECONDS - start))s"
    exec {lock}>&-
  done

  printf '\n[test-matrix] mode %s\n' "$mode" >&2
  printf '%-8s %-9s %-12s %-8s %-8s %s\n' version python venv unit engine result >&2
  for v in "${versions[@]}"; do
    printf '%-8s %-9s %-12s %-8s %-8s %s\n' "$v" "${interp[$v]}" "${venv_time[$v]}" "${unit_time[$v]}" \
      "${engine_time[$v]}" "${result[$v]}" >&2
  done
  if [ $failed -ne 0 ]; then log "FAILED: not every version passed (see above)"; return 1; fi
  log "every version passed: ${versions[*]}"
}

# The whole file is read before main runs, so editing it during a run cannot derail the run.
main "$@"
exit $?
