"""Teams sharing one Copy.ai workspace and one PostgreSQL state backend, through the `pulumi` CLI:
concurrent stacks of two projects under faults, the backend's lock, and copyai-audit.

Project "dyn" is a Python program with the dynamic provider (CopyAIWebhook); project "pkg" is a
Pulumi YAML program with the `copyai` package's plugin (copyai:index:Webhook): both front doors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.postgres import PostgresServer, postgres_backend_url_fixture, postgres_fixture  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
API_KEY = "teams-key-5c1d"
TYPES = ("pulumi-python:dynamic/copyai:CopyAIWebhook", "copyai:index:Webhook")


@pytest.fixture(scope="module")
def workspace() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, seed=7) as emu:
        yield emu


@pytest.fixture
def ws(workspace: Emulator) -> Emulator:
    workspace.reset()
    return workspace


class Project:
    """A Pulumi project directory outside the repository, driven through the CLI."""

    def __init__(self, root: Path, name: str, env: dict[str, str]) -> None:
        self.dir = root / name
        self.dir.mkdir(parents=True)
        self.name = name
        self.env = env

    def python(self, hooks: list[dict[str, Any]]) -> Project:
        (self.dir / "Pulumi.yaml").write_text(f"name: {self.name}\nruntime: python\n")
        (self.dir / "hooks.json").write_text(json.dumps(hooks))
        (self.dir / "__main__.py").write_text(textwrap.dedent("""
            import json
            import pulumi
            from pulumi_copyai import CopyAIWebhook
            for spec in json.load(open("hooks.json")):
                url = spec["url"].replace("{stack}", pulumi.get_stack())
                url = pulumi.Output.secret(url) if spec.get("secret") else url
                CopyAIWebhook(spec["name"], url=url, event_type=spec["eventType"])
        """))
        return self

    def yaml(self, hooks: list[dict[str, Any]]) -> Project:
        resources = {}
        for spec in hooks:
            plain = spec["url"].replace("{stack}", "${pulumi.stack}")
            url: Any = {"fn::secret": plain} if spec.get("secret") else plain
            resources[spec["name"]] = {"type": "copyai:index:Webhook",
                                       "properties": {"url": url, "eventType": spec["eventType"]}}
        program = {"name": self.name, "runtime": "yaml", "resources": resources}
        (self.dir / "Pulumi.yaml").write_text(json.dumps(program, indent=1))  # JSON is YAML
        return self

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["pulumi", *args, "--non-interactive"], cwd=self.dir, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=self.dir, env=self.env, text=True,
                              capture_output=True, check=False)
        if check:
            assert done.returncode == 0, f"pulumi {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def ids(self, stack: str) -> set[str]:
        deployment = json.loads(self.run("stack", "export", "--stack", stack).stdout)["deployment"]
        return {r["id"] for r in deployment.get("resources") or [] if r["type"] in TYPES}


def cli_env(backend_url: str, emu: Emulator, home: Path) -> dict[str, str]:
    bin_dirs = [str(Path(sys.executable).parent), str(REPO / ".pulumi-bin")]  # venv python + plugin, CLI + hosts
    return {
        "PATH": os.pathsep.join([*bin_dirs, "/usr/local/bin", "/usr/bin", "/bin"]),
        "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
        "HOME": str(home),
        "PULUMI_HOME": str(home / ".pulumi"),
        "PULUMI_BACKEND_URL": backend_url,
        "PULUMI_CONFIG_PASSPHRASE": "team-passphrase",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "COPYAI_BASE_URL": emu.base_url,
        "COPYAI_API_KEY": API_KEY,
    }


def hooks_for(project: str, n: int) -> list[dict[str, Any]]:
    """`n` webhooks whose URLs name the project and the stack (each stack declares its own)."""
    return [{"name": f"hook-{i:02d}", "url": f"https://hooks.example.com/{project}/{{stack}}/{i}",
             "eventType": "workflowRun.completed"} for i in range(n)]


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
    ws.arm("latency", seconds=0.5, probability=1.0, methods=["POST"])
    first = project.popen("up", "--yes", "--skip-preview", "--stack", "x")
    deadline = time.monotonic() + 60
    while not ws.requests("POST"):  # the first update is registering webhooks
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = project.run("up", "--yes", "--skip-preview", "--stack", "x", check=False)
    assert second.returncode != 0
    assert "the stack is currently locked" in second.stderr + second.stdout
    assert first.wait(timeout=120) == 0
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
    dangling = sorted(pkg.ids("b"))[0]
    assert ws.api("DELETE", f"/webhook/{dangling}").status_code in (200, 202)

    def audit(*args: str) -> tuple[int, str, str]:
        done = subprocess.run(["copyai-audit", *args], cwd=tmp_path, env=env, text=True, capture_output=True,
                              check=False)
        return done.returncode, done.stdout, done.stderr

    code, out, err = audit("--json")
    assert code == 1, err
    report = json.loads(out)
    assert sorted(report["stacks"]) == ["organization/dyn/a", "organization/pkg/b"]
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
