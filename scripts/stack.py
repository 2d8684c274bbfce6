"""Run the example stack (Pulumi.yaml + __main__.py) through the pinned Pulumi engine.

    python scripts/stack.py up|preview|refresh|destroy|outputs [--stack dev]
    python scripts/stack.py emulator|emulator-stop

The engine is driven through the Automation API with __main__.py as the program, which needs no
separate Python language host (see README, "Toolchain"). Unless `copyai:baseUrl` is set in the
stack config or COPYAI_BASE_URL in the environment, the local Copy.ai emulator (and a receiver for
its events) is started in the background and the provider is pointed at it through the environment,
so nothing about the emulator is written into the stack.
"""

from __future__ import annotations

import argparse
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from pulumi import automation as auto

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state"
EMULATOR_PORT = int(os.environ.get("COPYAI_EMULATOR_PORT", "8787"))
RECEIVER_PORT = int(os.environ.get("COPYAI_RECEIVER_PORT", "8788"))
EMULATOR_KEY = "emulator-key"


def _alive(url: str) -> bool:
    try:
        return requests.get(url, timeout=0.5).status_code < 500
    except requests.RequestException:
        return False


def _spawn(name: str, cmd: list[str], health: str) -> None:
    if _alive(health):
        return
    STATE.mkdir(exist_ok=True)
    log = open(STATE / f"{name}.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
    (STATE / f"{name}.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + 15
    while not _alive(health):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{name} did not start; see {STATE / (name + '.log')}")
        time.sleep(0.1)
    print(f"started {name} (pid {proc.pid}, log {STATE / (name + '.log')})", file=sys.stderr)


def start_emulator() -> dict[str, str]:
    """Start the emulator (state in .state/emulator.sqlite) and the event receiver if not running."""
    _spawn("emulator", ["copyai-emulator", "--port", str(EMULATOR_PORT), "--db", str(STATE / "emulator.sqlite"),
                        "--api-key", EMULATOR_KEY], f"http://127.0.0.1:{EMULATOR_PORT}/_admin/health")
    _spawn("receiver", ["copyai-receiver", "--port", str(RECEIVER_PORT)], f"http://127.0.0.1:{RECEIVER_PORT}/_events")
    return {"COPYAI_BASE_URL": f"http://127.0.0.1:{EMULATOR_PORT}/api", "COPYAI_API_KEY": EMULATOR_KEY}


def stop_emulator() -> None:
    for name in ("emulator", "receiver"):
        pid_file = STATE / f"{name}.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
                print(f"stopped {name}", file=sys.stderr)
            except (ProcessLookupError, ValueError):
                pass
            pid_file.unlink()


def program() -> None:
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def select_stack(name: str) -> auto.Stack:
    return auto.create_or_select_stack(name, project_name="copyai-webhooks", program=program,
                                       opts=auto.LocalWorkspaceOptions(work_dir=str(ROOT)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "preview", "refresh", "destroy", "outputs", "emulator",
                                            "emulator-stop"])
    parser.add_argument("--stack", default=os.environ.get("PULUMI_STACK", "dev"))
    args = parser.parse_args()
    if args.command == "emulator-stop":
        stop_emulator()
        return

    stack = select_stack(args.stack)
    uses_emulator = not stack.get_all_config().get("copyai:baseUrl") and not os.environ.get("COPYAI_BASE_URL")
    if uses_emulator or args.command == "emulator":
        emulator_env = start_emulator()
        os.environ.update(emulator_env)
        stack.workspace.env_vars.update(emulator_env)
        if args.command == "emulator":
            print(f"Copy.ai emulator: http://127.0.0.1:{EMULATOR_PORT}/api (x-copy-ai-api-key: {EMULATOR_KEY})")
            return
        print(f"Using the local Copy.ai emulator at {os.environ['COPYAI_BASE_URL']}", file=sys.stderr)

    try:
        if args.command == "up":
            stack.up(on_output=print, color="auto")
        elif args.command == "preview":
            stack.preview(on_output=print, color="auto", diff=True)
        elif args.command == "refresh":
            stack.refresh(on_output=print, color="auto")
        elif args.command == "destroy":
            stack.destroy(on_output=print, color="auto")
    except auto.CommandError as exc:
        sys.exit(f"pulumi {args.command} failed; see the diagnostics above.\n{str(exc).splitlines()[0]}")
    for key, value in stack.outputs().items():
        print(f"{key}: {value.value}")


if __name__ == "__main__":
    main()
