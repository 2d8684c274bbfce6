"""The data sources `copyai:index:getWebhook` and `getWebhooks` through the `pulumi` CLI (a YAML program)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import Project, cli_env
from tests.conftest import API_KEY

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`


def yaml_program(p: Project, variables: dict[str, Any], outputs: dict[str, Any]) -> None:
    program = {"name": p.name, "runtime": "yaml", "variables": variables, "outputs": outputs}
    (p.dir / "Pulumi.yaml").write_text(json.dumps(program, indent=1))


def project(tmp_path: Path, emu: Emulator) -> Project:
    (tmp_path / "state").mkdir()
    p = Project(tmp_path, "fns", cli_env(f"file://{tmp_path / 'state'}", None, tmp_path))
    yaml_program(p, {}, {})
    p.run("stack", "init", "dev")
    p.run("config", "set", "copyai:baseUrl", emu.base_url, "--stack", "dev")
    p.run("config", "set", "--secret", "copyai:apiKey", API_KEY, "--stack", "dev")
    return p


def test_get_webhooks_reads_every_page_and_filters(emu: Emulator, tmp_path: Path) -> None:
    made = [emu.api("POST", "/webhook", json={"url": f"https://hooks.example.com/hand/{i}",
                                              "eventType": "workflowRun.completed"}).json()["data"]["id"]
            for i in range(150)]
    secret = emu.api("POST", "/webhook", json={"url": "https://hooks.example.com/other?token=TOK-88",
                                                "eventType": "workflowRun.failed"}).json()["data"]["id"]
    p = project(tmp_path, emu)
    emu.clear_requests()
    yaml_program(p, {
        "hand": {"fn::invoke": {"function": "copyai:index:getWebhooks",
                                "arguments": {"urlPrefix": "https://hooks.example.com/hand/"}}},
        "failed": {"fn::invoke": {"function": "copyai:index:getWebhooks",
                                  "arguments": {"eventType": "workflowRun.failed"}}},
        "one": {"fn::invoke": {"function": "copyai:index:getWebhook", "arguments": {"id": made[0]}}},
    }, {"handIds": "${hand.ids}", "failed": "${failed.webhooks}", "oneUrl": "${one.url}"})
    up = p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    assert "TOK-88" not in up.stdout + up.stderr
    outs = json.loads(p.run("stack", "output", "--json", "--show-secrets", "--stack", "dev").stdout)
    assert outs["handIds"] == made, "every page, in order, and only the prefix"
    assert [w["id"] for w in outs["failed"]] == [secret]
    assert outs["oneUrl"] == "https://hooks.example.com/hand/0"
    plain = json.loads(p.run("stack", "output", "--json", "--stack", "dev").stdout)
    assert plain["failed"] == "[secret]" or "TOK-88" not in json.dumps(plain["failed"]), plain["failed"]
    assert emu.requests("POST") == [] and emu.requests("DELETE") == []


def test_get_webhook_of_a_missing_id_fails_clearly(emu: Emulator, tmp_path: Path) -> None:
    p = project(tmp_path, emu)
    yaml_program(p, {"one": {"fn::invoke": {"function": "copyai:index:getWebhook",
                                            "arguments": {"id": "0123456789abcdef0123456789abcdef"}}}},
                 {"url": "${one.url}"})
    done = p.run("preview", "--stack", "dev", check=False)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "no webhook with id '0123456789abcdef0123456789abcdef' in the workspace" in out, out


def test_the_python_functions_read_the_workspace(emu: Emulator, tmp_path: Path) -> None:
    made = [emu.api("POST", "/webhook", json={"url": f"https://hooks.example.com/py/{i}",
                                              "eventType": "workflowRun.started"}).json()["data"]["id"]
            for i in range(3)]
    p = project(tmp_path, emu)
    (p.dir / "Pulumi.yaml").write_text("name: fns\nruntime: python\n")
    (p.dir / "__main__.py").write_text(
        "import pulumi\n"
        "from pulumi_copyai import get_webhook, get_webhooks_output\n"
        "hooks = get_webhooks_output(event_type='workflowRun.started')\n"
        "pulumi.export('ids', hooks.apply(lambda hs: [h['id'] for h in hs]))\n"
        f"pulumi.export('first', get_webhook({made[0]!r})['url'])\n")
    p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    outs = json.loads(p.run("stack", "output", "--json", "--stack", "dev").stdout)
    assert outs == {"ids": made, "first": "https://hooks.example.com/py/0"}


def test_an_import_file_adopts_every_hand_made_webhook(emu: Emulator, tmp_path: Path) -> None:
    made = [emu.api("POST", "/webhook", json={"url": f"https://hooks.example.com/team/{i % 40}",
                                              "eventType": ["workflowRun.started", "workflowRun.completed",
                                                            "workflowRun.failed"][i // 40]}).json()["data"]["id"]
            for i in range(120)]
    p = project(tmp_path, emu)
    env = {**p.env, "COPYAI_BASE_URL": emu.base_url, "COPYAI_API_KEY": API_KEY}
    file = tmp_path / "import.json"
    audit = subprocess.run(["copyai-audit", "--import-file", str(file)], cwd=tmp_path, env=env, text=True,
                           capture_output=True, check=False, timeout=300)
    assert audit.returncode == 1, audit.stdout + audit.stderr  # 120 orphans found
    entries = json.loads(file.read_text())["resources"]
    assert sorted(e["id"] for e in entries) == sorted(made)
    assert len({e["name"] for e in entries}) == 120 and {e["type"] for e in entries} == {"copyai:index:Webhook"}
    assert any(e["name"] == "team-7-completed" for e in entries), entries[:3]

    emu.clear_requests()
    program = tmp_path / "imported.yaml"
    p.run("import", "--file", str(file), "--yes", "--protect=false", "--out", str(program), "--stack", "dev")
    generated = program.read_text()
    (p.dir / "Pulumi.yaml").write_text(f"name: fns\nruntime: yaml\n{generated}")
    p.run("preview", "--expect-no-changes", "--stack", "dev")
    assert emu.requests("POST") == [] and emu.requests("DELETE") == []
    again = subprocess.run(["copyai-audit", "--json"], cwd=tmp_path, env=env, text=True, capture_output=True,
                           check=False, timeout=300)
    report = json.loads(again.stdout)
    assert report["orphans"] == [] and len(report["managed"]) == 120, again.stdout[-2000:]
