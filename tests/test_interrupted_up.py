"""SIGKILL during `pulumi up`, then the documented recovery: no duplicate, no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.engine import EngineStack

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

N = 50
SPEC = {f"hook-{i:02d}": {"url": f"https://hooks.example.com/k/{i}", "event_type": "workflowRun.completed"}
        for i in range(N)}


def descendants(root: int) -> list[int]:
    """Every process under `root` (the CLI, the program, the provider plugin and its python)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie, killed and waiting for its parent to reap it, does not)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def repair_file_backend(backend: Path) -> None:
    """README recovery step for file backends: a checkpoint sidecar cut short by the kill."""
    for attrs in (backend / ".pulumi" / "stacks").rglob("*.attrs"):
        if attrs.stat().st_size == 0:
            attrs.unlink()


def test_sigkill_mid_up_then_recover_converges(emu: Emulator, new_stack: Callable[..., EngineStack]) -> None:
    stack = new_stack(spec=SPEC, env=emu.env())
    emu.arm("latency", seconds=0.3, probability=1.0, methods=["POST"])  # slow enough to kill mid-run
    # `pulumi up` as a user runs it, in the project directory, in a session of its own
    proc = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack.name],
                            cwd=stack.work_dir, env={**os.environ, **stack.env}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(emu.webhooks()) < 12:
        assert proc.poll() is None and time.monotonic() < deadline, "the update ended before it could be killed"
        time.sleep(0.05)
    # The whole tree at once: the CLI, the language host and the program, the provider plugin and its python.
    tree = descendants(proc.pid)
    for pid in tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    time.sleep(1.0)  # POSTs already on the wire still land at the API
    emu.disarm()
    assert not [pid for pid in tree if alive(pid)], "a process of the killed update survived"
    registered = len(emu.webhooks())
    assert 12 <= registered < N

    # Recovery, as the README documents it.
    repair_file_backend(stack.work_dir / ".state")
    assert stack.cli("cancel", "--yes").returncode == 0  # releases the dead update's lock
    pending = stack.export()["deployment"].get("pending_operations") or []
    assert pending, "expected the kill to leave pending creates"
    recover = subprocess.run(["copyai-recover", "--stack", stack.name], cwd=stack.work_dir, text=True,
                             capture_output=True, env={**os.environ, **stack.env}, check=False)
    assert recover.returncode == 0, recover.stderr
    # on the engine's state: no pending operation left, and not one webhook at the API outside the state
    assert not stack.export()["deployment"].get("pending_operations")
    kept = stack.webhook_ids()
    left = {h["id"] for h in emu.webhooks()} - kept
    # A webhook the engine saw answered (its id saved in the pending create) is this run's too: before recover
    # read those ids as "recorded by a stack", cleared the pending creates and left the webhooks as orphans
    # (about once in 12 runs on loaded cores).
    assert not left, f"leftovers {left}; pending before: {pending}\n{recover.stdout}"
    assert kept == {h["id"] for h in emu.webhooks()}, (
        f"every webhook left at the API is in the state; pending before: {pending}\n{recover.stdout}")

    up = stack.up()  # registers exactly what is missing
    assert up.summary.resource_changes == {"create": N - len(kept), "same": len(kept) + 1}
    api = emu.webhooks()
    assert len(api) == N and len({h["url"] for h in api}) == N, "duplicate or missing webhook"
    assert stack.webhook_ids() == {h["id"] for h in api}, "orphan at the API or dangling id in state"
    assert stack.preview(expect_no_changes=True).change_summary == {"same": N + 1}
    stack.destroy()
    assert emu.webhooks() == []
