"""copyai-recover through the engine, on states a SIGKILL really left: pending creates of ours beside
another resource's pending create, and an interrupted replacement. Asserts on the engine's state
(`pulumi stack export`) and the API, never on what recover prints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import TYPES, Project, cli_env, hooks_for

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

API_KEY = "recover-key-4b2e"
SLOW = "pulumi-python:dynamic:Resource"


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY) as emu:
        yield emu


def with_slow_neighbour(p: Project) -> None:
    """Adds to the Python program, before the webhooks, a resource of another provider whose create
    takes 60 s."""
    main = p.dir / "__main__.py"
    program = main.read_text()
    head, loop = program.split("for spec in", 1)
    main.write_text(head + textwrap.dedent("""
        import time
        from pulumi.dynamic import CreateResult, Resource, ResourceProvider

        class _Slow(ResourceProvider):
            def create(self, props):
                time.sleep(60)
                return CreateResult("slow-1", {})

        class Neighbour(Resource):
            def __init__(self, name):
                super().__init__(_Slow(), name, {})

        Neighbour("neighbour")
    """) + "for spec in" + loop)


def kill_mid_update(p: Project, api: Emulator, stack: str, *, until: int) -> None:
    """Runs `pulumi up` and SIGKILLs its whole process group once `until` POSTs are under way."""
    proc = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack],
                            cwd=p.dir, env=p.env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while not started_posts(api, until):
        assert proc.poll() is None and time.monotonic() < deadline, "the update ended before it could be killed"
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(2.5)  # POSTs already sent still land (the latency fault applies them late)
    api.disarm()
    for attrs in (Path(p.env["PULUMI_BACKEND_URL"].removeprefix("file://")) / ".pulumi").rglob("*.attrs"):
        if attrs.stat().st_size == 0:  # README: a kill can cut the checkpoint's sidecar short
            attrs.unlink()
    p.run("cancel", "--yes", "--stack", stack)


def started_posts(api: Emulator, n: int) -> bool:
    """True once the emulator has received `n` POSTs (the latency fault logs them only at the end)."""
    faults = api.admin("GET", "/faults")["faults"]
    return sum(f.get("hits", 0) for f in faults if f["mode"] == "latency") >= n


def pending(p: Project, stack: str) -> list[tuple[str, str]]:
    ops = p.export(stack).get("pending_operations") or []
    return [(op["type"], op["resource"]["urn"].rsplit("::", 1)[-1]) for op in ops]


def recover(p: Project, stack: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["copyai-recover", "--stack", stack, *args], cwd=p.dir, env=p.env, text=True,
                          capture_output=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_recover_clears_only_our_pending_creates_and_leaves_no_orphan(api: Emulator, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    p = Project(tmp_path, "dyn", cli_env(f"file://{tmp_path / 'state'}", api, tmp_path)).python(hooks_for("dyn", 8))
    with_slow_neighbour(p)
    p.run("stack", "init", "dev")
    api.arm("latency", seconds=2.0, probability=1.0, methods=["POST"])
    kill_mid_update(p, api, "dev", until=4)

    before = pending(p, "dev")
    ours = {name for op, name in before if op == "creating" and name.startswith("hook-")}
    assert ("creating", "neighbour") in before and ours, f"expected both kinds of pending creates: {before}"
    registered = {h["id"] for h in api.webhooks()}
    assert registered - p.ids("dev"), "the kill should leave webhooks registered but not in the state"

    dry = recover(p, "dev", "--dry-run")
    assert pending(p, "dev") == before and {h["id"] for h in api.webhooks()} == registered, "--dry-run changed things"
    assert "leave   urn:" in dry.stdout and "neighbour" in dry.stdout

    recover(p, "dev")
    assert pending(p, "dev") == [("creating", "neighbour")], "only our pending creates are cleared"
    assert {h["id"] for h in api.webhooks()} == p.ids("dev"), "no orphan: the API holds exactly the state's webhooks"

    # the neighbour's create blocks `up` for 60 s: settle it the way its owner would, then converge
    p.run("refresh", "--yes", "--skip-preview", "--clear-pending-creates", "--stack", "dev")
    (p.dir / "__main__.py").write_text((p.dir / "__main__.py").read_text().replace("time.sleep(60)", "pass"))
    up = p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    assert "created" in up.stdout
    hooks = api.webhooks()
    assert len(hooks) == 8 and len({h["url"] for h in hooks}) == 8, "duplicate or missing webhook"
    assert p.ids("dev") == {h["id"] for h in hooks}
    assert p.run("preview", "--expect-no-changes", "--stack", "dev").returncode == 0


def test_recover_settles_an_interrupted_replacement(api: Emulator, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    hooks = hooks_for("dyn", 3)
    p = Project(tmp_path, "dyn", cli_env(f"file://{tmp_path / 'state'}", api, tmp_path)).python(hooks)
    p.run("stack", "init", "dev")
    p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    old_ids = p.ids("dev")

    hooks[0]["url"] += "/v2"  # replaced create-before-delete: the new webhook first
    p.python(hooks)
    api.clear_requests()
    api.arm("latency", seconds=2.0, probability=1.0, methods=["POST"])
    kill_mid_update(p, api, "dev", until=1)
    assert ("creating", "hook-000") in pending(p, "dev")
    assert p.ids("dev") == old_ids, "the old webhook is still the live state of its URN"
    assert len(api.webhooks()) == 4, "the interrupted create registered the new webhook"

    recover(p, "dev")
    assert pending(p, "dev") == []
    assert {h["id"] for h in api.webhooks()} == old_ids == p.ids("dev"), "the unrecorded new webhook is removed"

    api.clear_requests()
    up = p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    assert "1 replaced" in up.stdout
    methods = [r["method"] for r in api.requests()]
    assert methods == ["GET", "POST", "DELETE"], "a view of the list, then create before delete, once each"
    state = {h["url"]: h["id"] for h in api.webhooks()}
    assert sorted(state) == sorted(h["url"].replace("{stack}", "dev") for h in hooks)
    assert p.ids("dev") == set(state.values())
    deployment = p.export("dev")
    assert not [r for r in deployment["resources"] if r["type"] in TYPES and r.get("delete")]
    assert json.dumps(deployment).count("hook-000") >= 1


@pytest.mark.parametrize("front_door", ["dyn", "pkg"])
def test_recover_never_removes_another_stacks_or_a_hand_made_webhook(api: Emulator, tmp_path: Path,
                                                                       front_door: str) -> None:
    """Stack x owns url U and someone made U2 by hand; stack y, declaring U and U2 too, is killed while
    its POSTs are held back, never applied. Recovery of y must leave both alone."""
    (tmp_path / "state").mkdir()
    hooks = [{"name": "shared", "url": "https://hooks.example.com/shared", "eventType": "workflowRun.completed"},
             {"name": "by-hand", "url": "https://hooks.example.com/by-hand", "eventType": "workflowRun.completed"}]
    p = Project(tmp_path, front_door, cli_env(f"file://{tmp_path / 'state'}", api, tmp_path))
    (p.python if front_door == "dyn" else p.yaml)(hooks[:1])
    p.run("stack", "init", "x")
    p.run("up", "--yes", "--skip-preview", "--stack", "x")
    hand_made = api.api("POST", "/webhook", json={"url": hooks[1]["url"], "eventType": "workflowRun.completed"})
    theirs = p.ids("x") | {hand_made.json()["data"]["id"]}
    assert {h["id"] for h in api.webhooks()} == theirs

    (p.python if front_door == "dyn" else p.yaml)(hooks)
    p.run("stack", "init", "y")
    api.arm("latency", seconds=30.0, probability=1.0, methods=["POST"])  # held back...
    api.arm("status", status=503, probability=1.0, methods=["POST"])  # ...then refused: never applied
    kill_mid_update(p, api, "y", until=2)
    assert {op for op, _ in pending(p, "y")} == {"creating"}

    done = recover(p, "y")
    assert {h["id"] for h in api.webhooks()} == theirs, "recovery removed a webhook that was not y's"
    assert pending(p, "y") == []
    assert done.stdout.count("leave   webhook") == 1 and "existed before" in done.stdout, done.stdout

    p.run("up", "--yes", "--skip-preview", "--stack", "y")  # y registers its own (a duplicate the audit reports)
    assert {h["id"] for h in api.webhooks()} == theirs | p.ids("y") and len(p.ids("y")) == 2
