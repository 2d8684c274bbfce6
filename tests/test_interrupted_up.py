"""SIGKILL during `pulumi up`, then the documented recovery: no duplicate, no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from pulumi_copyai import CopyAIWebhook
from pulumi_copyai.emulator.testing import Emulator
from tests.engine import EngineStack

N = 50
ROOT = Path(__file__).resolve().parent.parent

DRIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tests.engine import EngineStack
    from tests.test_interrupted_up import program
    EngineStack(Path(sys.argv[1]), program, env={"COPYAI_BASE_URL": sys.argv[2], "COPYAI_API_KEY": sys.argv[3]}).up()
""")


def program() -> None:
    for i in range(N):
        CopyAIWebhook(f"hook-{i:02d}", url=f"https://hooks.example.com/k/{i}", event_type="workflowRun.completed")


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


def repair_file_backend(backend: Path) -> None:
    """README recovery step for file backends: a checkpoint sidecar cut short by the kill."""
    for attrs in (backend / ".pulumi" / "stacks").rglob("*.attrs"):
        if attrs.stat().st_size == 0:
            attrs.unlink()


def test_sigkill_mid_up_then_recover_converges(emu: Emulator, new_stack: Callable[..., EngineStack],
                                               tmp_path: Path) -> None:
    work = tmp_path / "killed"
    work.mkdir()
    (tmp_path / "driver.py").write_text(DRIVER)
    emu.arm("latency", seconds=0.3, probability=1.0, methods=["POST"])  # slow enough to kill mid-run
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(work), emu.base_url, emu.api_key],
                            cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(emu.webhooks()) < 12:
        assert proc.poll() is None and time.monotonic() < deadline, "the update ended before it could be killed"
        time.sleep(0.05)
    for pid in descendants(proc.pid):  # the CLI, the program and the provider process, all at once
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    time.sleep(1.0)  # POSTs already on the wire still land at the API
    emu.disarm()
    registered = len(emu.webhooks())
    assert 12 <= registered < N

    # Recovery, as the README documents it.
    stack = EngineStack(work, program, env=emu.env())
    repair_file_backend(work / ".state")
    assert stack.cli("cancel", "--yes").returncode == 0  # releases the dead update's lock
    pending = stack.export()["deployment"].get("pending_operations") or []
    assert pending, "expected the kill to leave pending creates"
    recover = subprocess.run(["copyai-recover", "--stack", stack.name], cwd=work, text=True, capture_output=True,
                             env={**os.environ, **stack.env, **emu.env()}, check=False)
    assert recover.returncode == 0, recover.stderr
    assert recover.stdout.count("import ") == len([p for p in pending if p["type"] == "creating"]) - \
        recover.stdout.count("clear ")
    assert not stack.export()["deployment"].get("pending_operations")
    assert stack.webhook_ids() == {h["id"] for h in emu.webhooks()}, "every registered webhook is in the state"

    up = stack.up()
    assert up.summary.resource_changes == {"create": N - registered, "same": registered + 1}
    api = emu.webhooks()
    assert len(api) == N and len({h["url"] for h in api}) == N, "duplicate or missing webhook"
    assert stack.webhook_ids() == {h["id"] for h in api}, "orphan at the API or dangling id in state"
    assert stack.preview(expect_no_changes=True).change_summary == {"same": N + 1}
    stack.destroy()
    assert emu.webhooks() == []
