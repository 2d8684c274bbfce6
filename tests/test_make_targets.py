"""`make up`, `make preview`, `make refresh`, `make destroy`, `make emulator-stop`: the `pulumi` CLI in the
project directory with the emulator started in the background, as a developer runs them.

Each test works on a copy of the repository's project files (Makefile, Pulumi.yaml, __main__.py,
scripts/) in a temp directory, with the repository's .venv and .pulumi-bin linked in, its own file
backend and free ports, so a developer's .pulumi-state, .state and emulator on 8787 are left alone.
`make -o bootstrap` skips the bootstrap prerequisite (the test session already runs in it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from pulumi_copyai.emulator.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent
MAKE_KEY = "emulator-key"  # the key scripts/stack.py starts its emulator with


def _stack_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("copyai_stack_script", ROOT / "scripts" / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


listener_pid = _stack_script().listener_pid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Checkout:
    """A copy of the project files in a temp directory, with make and pulumi run there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        for name in ("Makefile", "Pulumi.yaml", "__main__.py"):
            shutil.copy(ROOT / name, root / name)
        (root / "scripts").mkdir()
        for name in ("env.sh", "stack.py"):
            shutil.copy(ROOT / "scripts" / name, root / "scripts" / name)
        (root / ".venv").symlink_to(ROOT / ".venv")
        (root / ".pulumi-bin").symlink_to((ROOT / ".pulumi-bin").resolve())
        (root / "backend").mkdir()
        self.emulator_port = free_port()
        self.receiver_port = free_port()
        # nothing of the developer's Pulumi or emulator settings, nor of an outer `make test`
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("COPYAI_", "PULUMI_")) and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        self.env = {
            **env,
            "PULUMI_BACKEND_URL": f"file://{root / 'backend'}",
            "PULUMI_CONFIG_PASSPHRASE": "make-test",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "COPYAI_EMULATOR_PORT": str(self.emulator_port),
            "COPYAI_RECEIVER_PORT": str(self.receiver_port),
        }

    def make(self, target: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", "--no-print-directory", "-o", "bootstrap", target], cwd=self.root,
                              env={**self.env, **env}, text=True, capture_output=True, timeout=300, check=False)

    def pulumi(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["pulumi", *args, "--stack", "dev", "--non-interactive"], cwd=self.root, env=self.env,
                              text=True, capture_output=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done

    def webhooks(self, port: int | None = None, key: str = MAKE_KEY) -> list[dict[str, Any]]:
        resp = requests.get(f"http://127.0.0.1:{port or self.emulator_port}/api/webhook",
                            params={"page": 0, "size": 100}, headers={"x-copy-ai-api-key": key}, timeout=10)
        resp.raise_for_status()
        return list(resp.json()["data"])

    def recorded_pids(self) -> dict[str, int]:
        pids = {}
        for pid_file in (self.root / ".state").glob("*.pid"):
            pids[pid_file.stem] = int(json.loads(pid_file.read_text())["pid"])
        return pids


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Checkout]:
    repo = Checkout(tmp_path / "checkout")
    yield repo
    pids = repo.recorded_pids() if (repo.root / ".state").exists() else {}
    repo.make("emulator-stop")
    for pid in pids.values():  # never leave a server behind, even if emulator-stop failed
        if pid_alive(pid):
            os.kill(pid, 9)


def output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def test_make_up_preview_refresh_destroy_run_the_cli_and_say_what_is_left_running(checkout: Checkout) -> None:
    up = checkout.make("up")
    assert up.returncode == 0, output(up)
    # the engine's own output, with the stack outputs
    assert "Updating (dev):" in up.stdout
    assert re.search(r"Resources:\n\s+\+ 7 created", up.stdout), up.stdout
    assert re.search(r"Outputs:\n(.*\n)*\s+pipeline_webhook_ids: \{", up.stdout), up.stdout
    assert len(checkout.webhooks()) == 5

    # what was left running, and how to stop it
    pids = checkout.recorded_pids()
    assert set(pids) == {f"emulator-{checkout.emulator_port}", f"receiver-{checkout.receiver_port}"}
    emulator_pid, receiver_pid = pids[f"emulator-{checkout.emulator_port}"], pids[f"receiver-{checkout.receiver_port}"]
    assert listener_pid(checkout.emulator_port) == emulator_pid
    assert listener_pid(checkout.receiver_port) == receiver_pid
    assert "Left running in the background" in up.stderr
    assert f"copyai-emulator  pid {emulator_pid}, http://127.0.0.1:{checkout.emulator_port}/api" in up.stderr
    assert f"copyai-receiver  pid {receiver_pid}, http://127.0.0.1:{checkout.receiver_port}" in up.stderr
    assert "Stop them with `make emulator-stop`" in up.stderr

    preview = checkout.make("preview")
    assert preview.returncode == 0, output(preview)
    assert re.search(r"Resources:\n\s+7 unchanged", preview.stdout), preview.stdout
    assert "(already running)" in preview.stderr  # the same emulator, not a second one

    refresh = checkout.make("refresh")
    assert refresh.returncode == 0, output(refresh)
    assert re.search(r"Resources:\n\s+7 unchanged", refresh.stdout), refresh.stdout

    destroy = checkout.make("destroy")
    assert destroy.returncode == 0, output(destroy)
    assert re.search(r"Resources:\n\s+- 7 deleted", destroy.stdout), destroy.stdout
    assert checkout.webhooks() == []

    stop = checkout.make("emulator-stop")
    assert stop.returncode == 0, output(stop)
    assert f"stopped copyai-emulator (pid {emulator_pid}, port {checkout.emulator_port})" in stop.stderr
    assert f"stopped copyai-receiver (pid {receiver_pid}, port {checkout.receiver_port})" in stop.stderr
    deadline = time.monotonic() + 10
    while (pid_alive(emulator_pid) or pid_alive(receiver_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(emulator_pid) and not pid_alive(receiver_pid)
    assert checkout.recorded_pids() == {}


def test_make_preview_prints_the_check_failure(checkout: Checkout) -> None:
    # a misspelled event type in the stack config `extraWebhooks` (README: Configuration)
    checkout.pulumi("stack", "init")
    for path, value in (("name", "audit"), ("url", "https://audit.example.com/copyai"),
                        ("eventType", "workflowRun.complted")):
        checkout.pulumi("config", "set", "--path", f"extraWebhooks[0].{path}", value)
    preview = checkout.make("preview")
    assert preview.returncode != 0
    text = output(preview)
    assert "resource 'audit'" in text
    assert "event_type 'workflowRun.complted' is not a Copy.ai event type" in text
    assert "did you mean 'workflowRun.completed'?" in text
    assert "the engine's diagnostics are above" in preview.stderr
    assert checkout.webhooks() == []


def test_make_up_refuses_a_foreign_emulator_that_rejects_its_key(checkout: Checkout) -> None:
    # e.g. the README walkthrough's `copyai-emulator --api-key ...` still running on the port
    with Emulator(api_key="walkthrough-key", port=checkout.emulator_port) as foreign:
        pid = listener_pid(foreign.port)
        assert pid is not None
        up = checkout.make("up")
        assert up.returncode != 0
        assert (f"A Copy.ai emulator that `make` did not start is listening on port {checkout.emulator_port} "
                f"(pid {pid}:") in up.stderr
        assert f"it rejects the key `make` uses, '{MAKE_KEY}' (HTTP 401)" in up.stderr
        assert f"`kill {pid}`" in up.stderr
        assert "COPYAI_EMULATOR_PORT=" in up.stderr and "COPYAI_RECEIVER_PORT=" in up.stderr
        assert "Updating (dev)" not in up.stdout  # nothing ran against it
        assert foreign.webhooks() == []
        assert checkout.recorded_pids() == {}  # and nothing was started

        stop = checkout.make("emulator-stop")
        assert f"port {checkout.emulator_port} is still in use by pid {pid}" in stop.stderr
        assert foreign.api("GET", "/webhook").status_code == 200  # emulator-stop left it alone


def test_make_up_uses_a_foreign_emulator_that_accepts_its_key_and_says_so(checkout: Checkout) -> None:
    with Emulator(api_key=MAKE_KEY, port=checkout.emulator_port) as foreign:
        pid = listener_pid(foreign.port)
        up = checkout.make("up")
        assert up.returncode == 0, output(up)
        assert (f"Using a Copy.ai emulator on port {checkout.emulator_port} that `make` did not start "
                f"(pid {pid}:") in up.stderr
        assert "`make emulator-stop` will not stop it" in up.stderr
        assert len(foreign.webhooks()) == 5
        assert set(checkout.recorded_pids()) == {f"receiver-{checkout.receiver_port}"}  # only the receiver
        destroy = checkout.make("destroy")
        assert destroy.returncode == 0, output(destroy)
        assert foreign.webhooks() == []


def test_make_up_refuses_a_port_taken_by_something_else(checkout: Checkout) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", checkout.emulator_port))
        squatter.listen()
        up = checkout.make("up")
    assert up.returncode != 0
    assert (f"Port {checkout.emulator_port} is in use by something that is not the Copy.ai emulator "
            f"(pid {os.getpid()}:") in up.stderr
    assert "Updating (dev)" not in up.stdout


def test_make_up_warns_when_the_receiver_port_is_taken_and_goes_on(checkout: Checkout) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", checkout.receiver_port))
        squatter.listen()
        up = checkout.make("up")
    assert up.returncode == 0, output(up)
    assert (f"Warning: port {checkout.receiver_port} is in use by something that is not copyai-receiver "
            f"(pid {os.getpid()}:") in up.stderr
    assert len(checkout.webhooks()) == 5
    assert set(checkout.recorded_pids()) == {f"emulator-{checkout.emulator_port}"}
