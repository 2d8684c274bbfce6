"""copyai-audit next to running and killed updates, through the `pulumi` CLI against the emulator: it never
deletes a webhook an update is still settling (the stack's lock, read from the file or PostgreSQL backend;
pending operations), skips an orphan a stack adopts before the deletes, and never prints a secret url."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pulumi_copyai import audit as audit_cli
from pulumi_copyai.emulator.testing import Emulator
from pulumi_copyai.stacks import TYPES, Backend, Lock, Recorded, Stack, read_backend
from tests.cli import Project, cli_env, hooks_for
from tests.postgres import PostgresServer, postgres_backend_url_fixture, postgres_fixture  # noqa: F401

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

API_KEY = "audit-busy-key-7e1a"


@pytest.fixture(scope="module")
def workspace() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, seed=11) as emu:
        yield emu


@pytest.fixture
def ws(workspace: Emulator) -> Emulator:
    workspace.reset()
    return workspace


@pytest.fixture(params=["file", "postgres"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        (tmp_path / "state").mkdir()
        return f"file://{tmp_path / 'state'}"
    return str(request.getfixturevalue("postgres_backend_url"))


def run_audit(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["copyai-audit", *args], cwd=cwd, env=env, text=True, capture_output=True, check=False,
                          timeout=300)


def fault_hits(ws: Emulator, mode: str, method: str) -> int:
    return sum(f.get("hits", 0) for f in ws.admin("GET", "/faults")["faults"]
               if f["mode"] == mode and method in (f.get("methods") or [method]))


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the update ended before {what}:\n{proc.stdout.read() if proc.stdout else ''}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_delete_orphans_refuses_while_an_update_is_settling_a_webhook(
    ws: Emulator, backend_url: str, tmp_path: Path
) -> None:
    """An update's POST is applied but its answer lost; the provider's search for it is held: the webhook is at the
    API and in no state. The audit reports it as an orphan of a busy stack and refuses to delete it."""
    env = cli_env(backend_url, ws, tmp_path)
    project = Project(tmp_path, "dyn", env).python(hooks_for("dyn", 3))
    project.run("stack", "init", "a")
    ws.arm("drop_after_commit", count=1, methods=["POST"])
    # The provider's search of the list after the drop (the first GET is its view before the POSTs).
    ws.arm("latency", seconds=12, count=1, methods=["GET"], after=2)  # after the credentials check and the view
    update = project.popen("up", "--yes", "--skip-preview", "--stack", "a")
    try:
        wait_for(lambda: fault_hits(ws, "latency", "GET") >= 1, update, "the provider's search")

        plain = run_audit(env, tmp_path, "--json")
        report = json.loads(plain.stdout)
        assert report["orphans"], plain.stdout + plain.stderr  # at least the applied POST, in no state yet
        assert list(report["busy"]) == ["organization/dyn/a"] and "locked by" in report["busy"]["organization/dyn/a"]

        done = run_audit(env, tmp_path, "--delete-orphans", "--yes")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "not deleting orphans" in done.stderr and "organization/dyn/a: locked by" in done.stderr
        assert "wait for its update to end" in done.stderr and "nothing was deleted" in done.stderr
        assert ws.requests("DELETE") == []
        assert fault_hits(ws, "latency", "GET") == 1 and update.poll() is None, "the window closed too early"
    finally:
        code = update.wait(timeout=300)
    assert code == 0, update.stdout.read() if update.stdout else ""
    api = ws.webhooks()
    assert len(api) == 3 and len({h["url"] for h in api}) == 3
    assert project.ids("a") == {h["id"] for h in api}, "the update ends with all its webhooks"
    assert ws.requests("DELETE") == []


def test_delete_orphans_refuses_after_a_killed_update_until_it_is_recovered(ws: Emulator, tmp_path: Path) -> None:
    """A SIGKILLed update leaves its lock, then (after `pulumi cancel`) pending creates, and webhooks at the API that
    no state records: the audit refuses with the right hint each time, and deletes nothing."""
    (tmp_path / "state").mkdir()
    env = cli_env(f"file://{tmp_path / 'state'}", ws, tmp_path)
    project = Project(tmp_path, "dyn", env).python(hooks_for("dyn", 6))
    project.run("stack", "init", "k")
    ws.arm("latency", seconds=2.0, probability=1.0, methods=["POST"])
    update = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--non-interactive", "--stack", "k"],
                              cwd=project.dir, env=env, start_new_session=True, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for(lambda: fault_hits(ws, "latency", "POST") >= 3, update, "three POSTs")
    time.sleep(0.5)
    os.killpg(update.pid, signal.SIGKILL)
    update.wait()
    time.sleep(2.5)  # the POSTs already sent land
    ws.disarm()
    for attrs in (tmp_path / "state" / ".pulumi").rglob("*.attrs"):
        if attrs.stat().st_size == 0:  # README: a kill can cut a checkpoint's sidecar short
            attrs.unlink()
    registered = {h["id"] for h in ws.webhooks()}
    assert registered and not registered & project.ids("k"), "expected webhooks the killed update never recorded"

    locked = run_audit(env, tmp_path, "--delete-orphans", "--yes")
    assert locked.returncode == 2, locked.stdout + locked.stderr
    assert "organization/dyn/k: locked by" in locked.stderr and "pending operation(s)" in locked.stderr
    assert "pulumi cancel --yes --stack NAME" in locked.stderr and "copyai-recover --stack NAME" in locked.stderr

    project.run("cancel", "--yes", "--stack", "k")
    pending = run_audit(env, tmp_path, "--delete-orphans", "--yes")
    assert pending.returncode == 2, pending.stdout + pending.stderr
    assert "organization/dyn/k:" in pending.stderr and "locked by" not in pending.stderr
    assert "pending operation(s) (creating hook-" in pending.stderr and "copyai-recover --stack NAME" in pending.stderr
    assert ws.requests("DELETE") == [] and {h["id"] for h in ws.webhooks()} == registered

    recover = subprocess.run(["copyai-recover", "--stack", "k"], cwd=project.dir, env=env, text=True,
                             capture_output=True, check=False, timeout=300)
    assert recover.returncode == 0, recover.stdout + recover.stderr
    settled = run_audit(env, tmp_path, "--delete-orphans", "--yes")
    assert settled.returncode == 0, settled.stdout + settled.stderr  # recover removed the killed update's webhooks
    assert {h["id"] for h in ws.webhooks()} == project.ids("k")


def _hook(ws: Emulator, url: str, event_type: str = "workflowRun.completed") -> str:
    return str(ws.api("POST", "/webhook", json={"url": url, "eventType": event_type}).json()["data"]["id"])


def _backend(*records: Recorded, locked: bool = False) -> Backend:
    name = "organization/dyn/a"
    locks = (Lock(name, f".pulumi/locks/{name}/1.json", 42, "ci", "runner", "2026-01-01T00:00:00Z"),) if locked else ()
    return Backend("file:///state", "file", (Stack(name, records, (), locks),), {name: locks} if locks else {})


@pytest.mark.parametrize("then", ["adopted", "locked"])
def test_delete_orphans_rechecks_the_states_and_locks_right_before_deleting(
    ws: Emulator, then: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Between the audit's first read and its deletes, a stack adopts one orphan (it is skipped and named), or a stack
    becomes locked (nothing is deleted)."""
    adopted = _hook(ws, "https://hooks.example.com/adopted")
    orphan = _hook(ws, "https://hooks.example.com/orphan")
    record = Recorded("organization/dyn/a", "late", "urn:pulumi:a::dyn::" + TYPES[0] + "::late", TYPES[0], adopted,
                      "https://hooks.example.com/adopted", False, "workflowRun.completed")
    reads = iter([_backend(), _backend(record) if then == "adopted" else _backend(locked=True)])
    monkeypatch.setattr(audit_cli, "read_backend", lambda *a, **k: next(reads))
    for key, value in ws.env().items():
        monkeypatch.setenv(key, value)

    with pytest.raises(SystemExit) as exit_info:
        audit_cli.main(["--delete-orphans", "--yes"])
    err = capsys.readouterr().err
    left = {h["id"] for h in ws.webhooks()}
    if then == "adopted":
        assert exit_info.value.code == 0, err
        assert f"Skipped 1 orphan(s) that a stack records now: {adopted} (organization/dyn/a:late)" in err
        assert f"Deleted 1 orphan(s): {orphan}" in err
        assert left == {adopted}
    else:
        assert exit_info.value.code == 2, err
        assert "organization/dyn/a: locked by ci@runner (pid 42)" in err and "nothing was deleted" in err
        assert left == {adopted, orphan}
    assert next(reads, None) is None, "the states and locks are read twice: before the list and before the deletes"


def test_show_urls_never_prints_a_secret_url_of_a_state(ws: Emulator, tmp_path: Path) -> None:
    """A secret url with an orphan copy (its own webhook at the API), and one whose own webhook is gone (dangling)
    with an orphan copy: neither token is printed, with --show-urls or without."""
    (tmp_path / "state").mkdir()
    env = cli_env(f"file://{tmp_path / 'state'}", ws, tmp_path)
    kept, gone = "tok-kept-5b81", "tok-gone-a3c0"
    hooks = [
        {"name": "plain", "url": "https://hooks.example.com/plain?v=1", "eventType": "workflowRun.completed"},
        {"name": "kept", "url": f"https://hooks.example.com/s/{kept}", "eventType": "workflowRun.started",
         "secret": True},
        {"name": "gone", "url": f"https://hooks.example.com/s/{gone}", "eventType": "workflowRun.failed",
         "secret": True},
    ]
    project = Project(tmp_path, "dyn", env).python(hooks)
    project.run("stack", "init", "s")
    project.run("up", "--yes", "--skip-preview", "--stack", "s")
    by_url = {h["url"]: h["id"] for h in ws.webhooks()}
    assert ws.api("DELETE", f"/webhook/{by_url[hooks[2]['url']]}").status_code in (200, 202)
    copies = {_hook(ws, f"https://HOOKS.example.com:443/s/{kept}/", "workflowRun.started"),  # same url, normalized
              _hook(ws, f"https://hooks.example.com/s/{gone}", "workflowRun.failed")}

    for args in (["--show-urls", "--json"], ["--show-urls"], ["--json"], []):
        done = run_audit(env, tmp_path, *args)
        assert done.returncode == 1, done.stdout + done.stderr
        text = done.stdout + done.stderr
        assert kept not in text and gone not in text, f"copyai-audit {' '.join(args)} printed a secret url"
        if "--json" in args:
            report = json.loads(done.stdout)
            assert {o["id"] for o in report["orphans"]} == copies
            assert {o["url"] for o in report["orphans"]} == {"[secret]"}
            assert len(report["dangling"]) == 1 and len(report["duplicates"]) == 1
            plain = "https://hooks.example.com/plain?v=" + ("1" if "--show-urls" in args else "***")
            assert [m["url"] for m in report["managed"] if m["resource"] == "plain"] == [plain]

    named = read_backend(["s"], cwd=project.dir, env=env)  # a bare stack name, in its project's directory
    assert [st.name for st in named.stacks] == ["organization/dyn/s"] and named.busy() == {}
    assert {w.name for w in named.webhooks()} == {"plain", "kept", "gone"} and named.secret_urls() == set()
