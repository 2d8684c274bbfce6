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

import pexpect
import pytest
import requests

from pulumi_copyai.emulator.testing import Emulator

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

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
        # nothing of the developer's Pulumi or emulator settings, nor of an outer `make test` or CI
        # (CI=true would make the terminal test below non-interactive, as it does for the Pulumi CLI)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("COPYAI_", "PULUMI_"))
               and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CI", "YES")}
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


# -- a stack is bound to the API in its own config ---------------------------------------------------
def config_file(checkout: Checkout, stack: str) -> str:
    return (checkout.root / f"Pulumi.{stack}.yaml").read_text()


def stacks(checkout: Checkout) -> list[str]:
    done = subprocess.run(["pulumi", "stack", "ls", "--json"], cwd=checkout.root, env=checkout.env, text=True,
                          capture_output=True, timeout=60, check=True)
    return sorted(s["name"] for s in json.loads(done.stdout))


def recorded(checkout: Checkout, stack: str) -> set[str]:
    """The webhook ids in the stack's state."""
    done = subprocess.run(["pulumi", "stack", "export", "--stack", stack], cwd=checkout.root, env=checkout.env,
                          text=True, capture_output=True, timeout=60, check=True)
    return {r["id"] for r in json.loads(done.stdout)["deployment"].get("resources") or []
            if r["type"] == "pulumi-python:dynamic/copyai:CopyAIWebhook"}


def bind(checkout: Checkout, stack: str, emu: Emulator) -> None:
    """A stack of its own for `emu` (standing in for Copy.ai), as the README's walkthrough makes one."""
    for args in (("stack", "init", stack), ("config", "set", "copyai:baseUrl", emu.base_url, "--stack", stack)):
        subprocess.run(["pulumi", *args], cwd=checkout.root, env=checkout.env, text=True, capture_output=True,
                       timeout=60, check=True)


def test_the_demo_stack_records_the_emulator_and_refuses_another_api_from_the_shell(checkout: Checkout) -> None:
    local = f"http://127.0.0.1:{checkout.emulator_port}/api"
    with Emulator(api_key="copyai-stand-in") as other:
        # the demo stack never starts against another API from the shell: refused before it is created
        up = checkout.make("up", COPYAI_BASE_URL=other.base_url)
        assert up.returncode != 0 and stacks(checkout) == []
        assert f"COPYAI_BASE_URL is {other.base_url} in your environment, but stack 'dev' would be created" in up.stderr

        up = checkout.make("up", COPYAI_API_KEY="a-real-key-in-the-shell")
        assert up.returncode == 0, output(up)
        assert "Created the demo stack 'dev', bound to the local Copy.ai emulator" in up.stderr
        assert f"Stack 'dev': the local Copy.ai emulator at {local} (copyai:baseUrl in Pulumi.dev.yaml)" in up.stderr
        assert "COPYAI_API_KEY in your environment is not used" in up.stderr
        config = config_file(checkout, "dev")
        assert f"copyai:baseUrl: {local}" in config and re.search(r"copyai:apiKey:\n\s+secure: ", config)
        hooks = {h["id"] for h in checkout.webhooks()}
        assert len(hooks) == 5

        # another API in the shell: refused, naming both and what to do; nothing dropped, nothing asked of either
        for target in ("refresh", "destroy", "up", "preview"):
            switched = checkout.make(target, COPYAI_BASE_URL=other.base_url)
            assert switched.returncode != 0, output(switched)
            assert (f"COPYAI_BASE_URL is {other.base_url} in your environment, but stack 'dev' is bound to {local} "
                    f"(copyai:baseUrl in its config, Pulumi.dev.yaml)") in switched.stderr
            assert "unset COPYAI_BASE_URL" in switched.stderr and "pulumi stack init prod" in switched.stderr
            assert "Refreshing" not in switched.stdout and "Destroying" not in switched.stdout
        assert {h["id"] for h in checkout.webhooks()} == hooks and recorded(checkout, "dev") == hooks
        assert other.requests() == []
        same = checkout.make("preview", COPYAI_BASE_URL=local + "/")  # the same API is fine
        assert same.returncode == 0, output(same)

        # a dev stack made by an older `make` (no copyai:baseUrl, ids from the emulator) adopts the emulator
        checkout.pulumi("config", "rm", "copyai:baseUrl")
        checkout.pulumi("config", "rm", "copyai:apiKey")
        refused = checkout.make("refresh", COPYAI_BASE_URL=other.base_url)
        assert refused.returncode != 0 and "Say where its webhooks are" in refused.stderr
        assert "copyai:baseUrl" not in config_file(checkout, "dev")
        refresh = checkout.make("refresh")
        assert refresh.returncode == 0, output(refresh)
        assert "Stack 'dev' had no copyai:baseUrl in its config (made by an earlier `make`" in refresh.stderr
        assert re.search(r"Resources:\n\s+7 unchanged", refresh.stdout), refresh.stdout
        assert f"copyai:baseUrl: {local}" in config_file(checkout, "dev")
        assert {h["id"] for h in checkout.webhooks()} == hooks and other.requests() == []


def test_make_creates_no_stack_but_dev_and_needs_each_other_stack_to_name_its_api(checkout: Checkout) -> None:
    checkout.pulumi("stack", "init")  # dev
    subprocess.run(["pulumi", "stack", "init", "prod"], cwd=checkout.root, env=checkout.env, capture_output=True,
                   timeout=60, check=True)
    typo = checkout.make("up", PULUMI_STACK="prdo")
    assert typo.returncode != 0
    assert "Stack 'prdo' does not exist (this project's stacks: dev, prod)" in typo.stderr
    assert "pulumi stack init prdo" in typo.stderr and "Check PULUMI_STACK" in typo.stderr
    assert stacks(checkout) == ["dev", "prod"]

    unbound = checkout.make("preview", PULUMI_STACK="prod", COPYAI_BASE_URL="https://api.copy.ai/api")
    assert unbound.returncode != 0
    assert "Stack 'prod' has no copyai:baseUrl in its config" in unbound.stderr
    assert "pulumi config set copyai:baseUrl https://api.copy.ai/api --stack prod" in unbound.stderr
    assert checkout.recorded_pids() == {}  # no emulator for it


def test_a_stack_other_than_dev_previews_and_asks_and_changes_nothing_unanswered(checkout: Checkout) -> None:
    with Emulator(api_key="copyai-stand-in") as copyai:
        bind(checkout, "prod", copyai)
        env = {"PULUMI_STACK": "prod", "COPYAI_API_KEY": "copyai-stand-in"}
        up = checkout.make("up", **env)  # no terminal (stdin is not one), no YES=1
        assert up.returncode != 0, output(up)
        assert f"Stack 'prod': the Copy.ai API at {copyai.base_url} (copyai:baseUrl in Pulumi.prod.yaml), key: " \
               "COPYAI_API_KEY from your environment" in up.stderr
        assert re.search(r"Resources:\n\s+\+ 7 to create", up.stdout), up.stdout
        assert "Nothing was changed" in up.stderr and "YES=1 PULUMI_STACK=prod make up" in up.stderr
        assert copyai.webhooks() == [] and checkout.recorded_pids() == {}  # nor was the local emulator started

        up = checkout.make("up", YES="1", **env)
        assert up.returncode == 0, output(up)
        hooks = {h["id"] for h in copyai.webhooks()}
        assert len(hooks) == 5

        # the shell's COPYAI_BASE_URL cannot move it elsewhere (the other direction: to the local emulator)
        moved = checkout.make("refresh", COPYAI_BASE_URL=f"http://127.0.0.1:{checkout.emulator_port}/api", **env)
        assert moved.returncode != 0
        assert f"but stack 'prod' is bound to {copyai.base_url}" in moved.stderr
        assert checkout.recorded_pids() == {}

        for target in ("refresh", "destroy"):
            unanswered = checkout.make(target, **env)
            assert unanswered.returncode != 0, output(unanswered)
            assert f"YES=1 PULUMI_STACK=prod make {target}" in unanswered.stderr
        assert {h["id"] for h in copyai.webhooks()} == hooks and recorded(checkout, "prod") == hooks

        # at a terminal the CLI asks; "no" changes nothing
        child = pexpect.spawn("make", ["--no-print-directory", "-o", "bootstrap", "destroy"], cwd=str(checkout.root),
                              env={**checkout.env, **env}, encoding="utf-8", dimensions=(60, 200), timeout=120)
        child.expect(r"Do you want to perform this destroy\?")
        time.sleep(0.3)
        child.send("no")
        time.sleep(0.3)
        child.send("\r")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus != 0 and "confirmation declined" in str(child.before)
        assert "if you answered no, nothing was changed" in str(child.before)
        assert {h["id"] for h in copyai.webhooks()} == hooks and recorded(checkout, "prod") == hooks

        destroy = checkout.make("destroy", YES="1", **env)
        assert destroy.returncode == 0, output(destroy)
        assert copyai.webhooks() == []
