"""Teams sharing one Copy.ai workspace and one PostgreSQL state backend, through the `pulumi` CLI:
concurrent stacks of two projects under faults, the backend's lock, and copyai-audit.

Project "dyn" is a Python program with the dynamic provider (CopyAIWebhook); project "pkg" is a
Pulumi YAML program with the `copyai` package's plugin (copyai:index:Webhook): both front doors.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_copyai.emulator.testing import Emulator
from pulumi_copyai.stacks import read_backend
from tests.cli import Project, cli_env, hooks_for
from tests.postgres import PostgresServer, postgres_backend_url_fixture, postgres_fixture  # noqa: F401

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

API_KEY = "teams-key-5c1d"


@pytest.fixture(scope="module")
def workspace() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, seed=7) as emu:
        yield emu


@pytest.fixture
def ws(workspace: Emulator) -> Emulator:
    workspace.reset()
    return workspace


def test_four_stacks_of_two_projects_at_once_under_faults(
    ws: Emulator, postgres_backend_url: str, tmp_path: Path
) -> None:
    env = cli_env(postgres_backend_url, ws, tmp_path)
    projects = {
        "dyn": Project(tmp_path, "dyn", env),
        "pkg": Project(tmp_path, "pkg", env),
    }
    projects["dyn"].python(hooks_for("dyn", 50))
    projects["pkg"].yaml(hooks_for("pkg", 50))
    stacks = [(p, s) for p in projects for s in ("team-a", "team-b")]
    for name, stack in stacks:
        projects[name].run("stack", "init", stack)
    # about 10% of requests fail: dropped after the webhook was registered, 429, 503
    ws.arm("drop_after_commit", probability=0.04)
    ws.arm("status", status=429, retry_after=0.2, probability=0.03)
    ws.arm("status", status=503, probability=0.03)

    def run_all(*args: str) -> list[tuple[int, str]]:
        procs = [projects[p].popen(*args, "--stack", s) for p, s in stacks]
        return [(proc.wait(timeout=600), proc.stdout.read() if proc.stdout else "") for proc in procs]

    results = run_all("up", "--yes", "--skip-preview")
    faults = len([r for r in ws.requests() if r["fault"]])
    ws.disarm()
    for code, out in results:
        assert code == 0, out
    assert faults >= 20, f"only {faults} faults fired"
    api = {h["id"]: h["url"] for h in ws.webhooks()}
    assert len(api) == 200 and len(set(api.values())) == 200, "a webhook is missing or registered twice"
    seen: set[str] = set()
    for name, stack in stacks:
        ids = projects[name].ids(stack)
        assert len(ids) == 50 and not ids & seen, f"{name}/{stack} holds {len(ids)} ids, or another stack's"
        assert {api[i].rsplit("/", 2)[-2] for i in ids} == {stack}, "an id recorded in the wrong stack"
        seen |= ids
    assert seen == set(api)

    ws.arm("drop_after_commit", probability=0.04)
    ws.arm("status", status=503, probability=0.05)
    results = run_all("destroy", "--yes", "--skip-preview")
    ws.disarm()
    for code, out in results:
        assert code == 0, out
    assert ws.webhooks() == []
    assert all(projects[p].ids(s) == set() for p, s in stacks)


def test_a_second_up_on_a_stack_being_updated_is_refused(
    ws: Emulator, postgres_backend_url: str, tmp_path: Path
) -> None:
    project = Project(tmp_path, "dyn", cli_env(postgres_backend_url, ws, tmp_path)).python(hooks_for("dyn", 10))
    project.run("stack", "init", "x")
    # the first POST is held 20 s, so the first update holds its lock that long whatever the machine's load (the
    # second `up` and the audit's read of the backend start pulumi processes: seconds on busy cores); the other
    # POSTs are answered at once
    ws.arm("latency", seconds=20, count=1, methods=["POST"])
    first = project.popen("up", "--yes", "--skip-preview", "--stack", "x")
    deadline = time.monotonic() + 60
    while not ws.requests("POST"):  # the first update is registering webhooks
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = project.run("up", "--yes", "--skip-preview", "--stack", "x", check=False)
    assert second.returncode != 0
    assert "the stack is currently locked" in second.stderr + second.stdout
    busy = read_backend(cwd=tmp_path, env=project.env).busy()  # the lock as copyai-audit sees it
    assert list(busy) == ["organization/dyn/x"] and busy["organization/dyn/x"].startswith("locked by ")
    assert first.wait(timeout=120) == 0
    assert read_backend(cwd=tmp_path, env=project.env).busy() == {}
    ws.disarm()
    api = ws.webhooks()
    assert len(api) == 10 and len({h["url"] for h in api}) == 10, "registered twice"
    assert project.ids("x") == {h["id"] for h in api}


def test_audit_finds_orphans_duplicates_and_dangling_and_deletes_only_orphans(
    ws: Emulator, postgres_backend_url: str, tmp_path: Path
) -> None:
    env = cli_env(postgres_backend_url, ws, tmp_path)
    shared = {"name": "shared", "url": "https://hooks.example.com/shared", "eventType": "workflowRun.failed"}
    token = "tok-audit-91c"
    secret = {"name": "secret", "url": f"https://hooks.example.com/s?token={token}", "eventType": "workflowRun.started",
              "secret": True}
    dyn = Project(tmp_path, "dyn", env).python([*hooks_for("dyn", 2), shared, secret])
    pkg = Project(tmp_path, "pkg", env).yaml([*hooks_for("pkg", 2), shared])
    for project, stack in ((dyn, "a"), (pkg, "b")):
        project.run("stack", "init", stack)
        project.run("up", "--yes", "--skip-preview", "--stack", stack)
    # plant: an orphan, and a dangling id (deleted out of band); `shared` is declared by both stacks
    orphan = ws.api("POST", "/webhook", json={"url": "https://hooks.example.com/by-hand?key=abc",
                                             "eventType": "workflowRun.completed"}).json()["data"]["id"]
    # any of b's own hooks but `shared`, whose deletion would leave no duplicate to find
    urls = {h["id"]: h["url"] for h in ws.webhooks()}
    dangling = sorted(i for i in pkg.ids("b") if urls[i] != shared["url"])[0]
    assert ws.api("DELETE", f"/webhook/{dangling}").status_code in (200, 202)

    def audit(*args: str) -> tuple[int, str, str]:
        done = subprocess.run(["copyai-audit", *args], cwd=tmp_path, env=env, text=True, capture_output=True,
                              check=False)
        return done.returncode, done.stdout, done.stderr

    code, out, err = audit("--json")
    assert code == 1, err
    report = json.loads(out)
    assert sorted(report["stacks"]) == ["organization/dyn/a", "organization/pkg/b"]
    assert report["busy"] == {}
    assert [o["id"] for o in report["orphans"]] == [orphan]
    assert report["orphans"][0]["url"] == "https://hooks.example.com/by-hand?key=***"
    assert [d["id"] for d in report["dangling"]] == [dangling]
    (dup,) = report["duplicates"]
    assert dup["url"] == shared["url"] and len(dup["webhooks"]) == 2
    assert sorted(o for w in dup["webhooks"] for o in w["owners"]) == ["organization/dyn/a:shared",
                                                                      "organization/pkg/b:shared"]
    managed = {(m["stack"], m["resource"]): m for m in report["managed"]}
    assert len(managed) == 6  # 4 in a, 2 in b at the API (b's third is dangling)
    assert managed[("organization/dyn/a", "secret")]["url"] == "[secret]"
    assert token not in out

    code, table, _ = audit()
    assert code == 1 and "orphans: in the workspace, in no stack (1)" in table and orphan in table
    assert token not in table

    code, _, err = audit("--delete-orphans")  # without --yes: the plan only
    assert "Would delete 1 orphan(s)" in err and orphan in {h["id"] for h in ws.webhooks()}
    code, _, err = audit("--delete-orphans", "--yes")
    assert code == 1  # the duplicate and the dangling webhook remain findings
    assert "Deleted 1 orphan(s)" in err
    remaining = {h["id"] for h in ws.webhooks()}
    assert orphan not in remaining and remaining == (dyn.ids("a") | pkg.ids("b")) - {dangling}


def test_audit_is_clean_for_a_clean_workspace(ws: Emulator, postgres_backend_url: str, tmp_path: Path) -> None:
    env = cli_env(postgres_backend_url, ws, tmp_path)
    project = Project(tmp_path, "pkg", env).yaml(hooks_for("pkg", 2))
    project.run("stack", "init", "c")
    project.run("up", "--yes", "--skip-preview", "--stack", "c")
    done = subprocess.run(["copyai-audit"], cwd=tmp_path, env=env, text=True, capture_output=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No orphan, duplicate or dangling webhook." in done.stdout
    assert "managed (2)" in done.stdout


def test_audit_reads_the_postgres_lock_the_cli_honours(
    ws: Emulator, postgres: PostgresServer, postgres_backend_url: str, tmp_path: Path
) -> None:
    """A lock blob written into the backend's table (a custom `table=`) the way the CLI writes one: `pulumi up` is
    refused, copyai-audit --delete-orphans refuses too, naming its holder; after `pulumi cancel` neither does."""
    env = cli_env(postgres_backend_url + "&table=team_state", ws, tmp_path)
    project = Project(tmp_path, "pkg", env).yaml(hooks_for("pkg", 1))
    project.run("stack", "init", "t")
    database = postgres_backend_url.rsplit("/", 1)[1].split("?", 1)[0]
    blob = json.dumps({"pid": 4242, "username": "ci", "hostname": "runner-7", "timestamp": "2026-01-02T03:04:05Z"})
    data = json.dumps({"data": base64.b64encode(blob.encode()).decode()})
    postgres.psql(f"INSERT INTO team_state (key, data) VALUES "
                  f"('{database}/.pulumi/locks/organization/pkg/t/0b1c.json', '{data}')", database=database)
    refused = project.run("up", "--yes", "--skip-preview", "--stack", "t", check=False)
    assert refused.returncode != 0 and "the stack is currently locked" in refused.stdout + refused.stderr

    def audit() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["copyai-audit", "--delete-orphans", "--yes"], cwd=tmp_path, env=env, text=True,
                              capture_output=True, check=False)

    done = audit()
    assert done.returncode == 2 and "organization/pkg/t: locked by ci@runner-7 (pid 4242)" in done.stderr, done.stderr
    project.run("cancel", "--yes", "--stack", "t")
    done = audit()
    assert done.returncode == 0, done.stdout + done.stderr
    project.run("up", "--yes", "--skip-preview", "--stack", "t")
