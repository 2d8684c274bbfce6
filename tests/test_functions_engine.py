"""The data sources `copyai:index:getWebhook` and `getWebhooks` through the `pulumi` CLI (a YAML program)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import Project, cli_env
from tests.conftest import API_KEY


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
