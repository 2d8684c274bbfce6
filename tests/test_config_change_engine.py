"""Provider configuration changes take effect on the very next `pulumi up`, through the `pulumi` CLI.

Three setups: the dynamic provider (`dyn`, a Python program with CopyAIWebhook, configured by the
stack's `copyai:*` config), the plugin's default provider (`pkg`, a YAML program, `copyai:*` config)
and an explicit `pulumi:providers:copyai` resource (`explicit`, a YAML program whose provider takes
its inputs from the project's own config). A changed key, URL, timeout or retry window is used by
the next `up`, updates the provider (its ID stays) and replaces no webhook.

The plugin once answered DiffConfig with DIFF_NONE for a change (server.py), so the engine kept the
provider configured with its old inputs and a change applied one `up` late. A plain `up --refresh`
still refreshes with the provider configuration recorded in the state (that is the engine's design:
the program has not run yet); `up --refresh --run-program` refreshes with the new one.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import TYPES, Project, cli_env
from tests.conftest import API_KEY

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

SETUPS = ["dyn", "pkg", "explicit"]
PROVIDER_TYPES = ("pulumi:providers:pulumi-python", "pulumi:providers:copyai")


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hook(i: int, url: str | None = None, secret: bool = False) -> dict[str, Any]:
    return {"name": f"hook-{i}", "url": url or f"https://hooks.example.com/config/{{stack}}/{i}",
            "eventType": "workflowRun.completed", "secret": secret}


class Setup:
    """One project and its `dev` stack: `setup.config(apiKey=..., baseUrl=...)` sets the provider's
    configuration the way the setup takes it; `setup.up(hooks)` declares `hooks` and runs `pulumi up`."""

    def __init__(self, tmp_path: Path, kind: str) -> None:
        self.kind = kind
        (tmp_path / "state").mkdir()
        env = cli_env(f"file://{tmp_path / 'state'}", None, tmp_path)  # no COPYAI_* variables: config only
        self.p = Project(tmp_path, "dyn" if kind == "dyn" else "pkg", env)
        self.write([])
        self.p.run("stack", "init", "dev")

    def write(self, hooks: list[dict[str, Any]]) -> None:
        if self.kind == "dyn":
            self.p.python(hooks)
        elif self.kind == "pkg":
            self.p.yaml(hooks)
        else:
            self.p.yaml(hooks)
            program = json.loads((self.p.dir / "Pulumi.yaml").read_text())
            program["config"] = {"apiKey": {"type": "string"}, "baseUrl": {"type": "string"},
                                 "timeoutSeconds": {"type": "integer"}, "retryWindowSeconds": {"type": "integer"}}
            program["resources"] = program.get("resources") or {}
            program["resources"]["prov"] = {"type": "pulumi:providers:copyai", "properties": {
                key: f"${{{key}}}" for key in program["config"]}}
            for name, res in program["resources"].items():
                if name != "prov":
                    res["options"] = {"provider": "${prov}"}
            (self.p.dir / "Pulumi.yaml").write_text(json.dumps(program, indent=1))

    def config(self, **values: Any) -> None:
        namespace = "pkg" if self.kind == "explicit" else "copyai"
        for key, value in values.items():
            secret = ["--secret"] if key == "apiKey" else []
            self.p.run("config", "set", *secret, f"{namespace}:{key}", str(value), "--stack", "dev")

    def up(self, hooks: list[dict[str, Any]], *args: str, ok: bool = True) -> tuple[str, float]:
        """`pulumi up` declaring `hooks`: its output and how long it took; it must succeed (ok) or fail."""
        self.write(hooks)
        started = time.monotonic()
        done = self.p.run("up", "--yes", "--skip-preview", "--stack", "dev", *args, check=False, timeout=300)
        took = time.monotonic() - started
        out = done.stdout + done.stderr
        assert (done.returncode == 0) == ok, f"`pulumi up {' '.join(args)}` {'failed' if ok else 'succeeded'}:\n{out}"
        assert "replace" not in out, f"something was replaced:\n{out}"
        return out, took

    def state(self) -> tuple[set[str], set[str]]:
        """The webhooks' IDs and the providers' IDs in the state."""
        resources = self.p.export("dev").get("resources") or []
        hooks = [r for r in resources if r["type"] in TYPES]
        providers = [r for r in resources if r["type"] in PROVIDER_TYPES]
        name = "prov" if self.kind == "explicit" else "default"
        assert all(f"::{name}::" in r["provider"] for r in hooks), "a webhook has another provider"
        return {r["id"] for r in hooks}, {r["id"] for r in providers}

    def configured(self, key: str) -> Any:
        """The provider's configuration `key` as the state records it (its outputs: what it was configured
        with; a provider kept the same keeps its old outputs)."""
        (provider,) = [r for r in self.p.export("dev").get("resources") or [] if r["type"] in PROVIDER_TYPES]
        return provider["outputs"].get(f"copyai:{key}" if self.kind == "dyn" else key)


@pytest.fixture(params=SETUPS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    return Setup(tmp_path, request.param)


def test_a_new_api_key_is_used_by_the_next_up(emu: Emulator, setup: Setup) -> None:
    setup.config(apiKey=API_KEY, baseUrl=emu.base_url, timeoutSeconds=10, retryWindowSeconds=2)
    setup.up([hook(0)])
    hooks0, providers0 = setup.state()

    setup.config(apiKey="wrong-key-5e1f")
    named = "the apiKey input of provider 'prov'" if setup.kind == "explicit" else "copyai:apiKey"
    out, took = setup.up([hook(0)], "--refresh", "--run-program", ok=False)  # refreshing needs the API
    assert "HTTP 401" in out and "apiKey" in out and "wrong-key-5e1f" not in out, out
    # The credentials check when the provider starts finds it (and names the input that was set).
    out, took = setup.up([hook(0), hook(1)], ok=False)
    assert "HTTP 401" in out and "credentials check" in out and f"check {named}" in out, out
    assert took < 30, f"a rejected key took {took:.0f}s to fail"
    assert len(emu.webhooks()) == 1

    setup.config(apiKey=API_KEY)
    out, _ = setup.up([hook(0), hook(1)])
    if setup.kind == "explicit":  # the wrong key failed the provider's update (its credentials check): the
        assert "prov updated" not in out, out  # state kept the right one, so restoring it changes nothing
    hooks1, providers1 = setup.state()
    assert hooks0 < hooks1 and len(hooks1) == 2, "a webhook was replaced"
    assert providers1 == providers0, "the provider was replaced, not updated"
    assert {h["id"] for h in emu.webhooks()} == hooks1
    setup.up([hook(0), hook(1)], "--refresh", "--run-program", "--expect-no-changes")


def test_a_fixed_base_url_is_used_by_the_next_up(emu: Emulator, setup: Setup) -> None:
    wrong = f"http://127.0.0.1:{closed_port()}/api"
    setup.config(apiKey=API_KEY, baseUrl=wrong, timeoutSeconds=10, retryWindowSeconds=1)
    out, took = setup.up([hook(0)], ok=False)
    assert "could not connect" in out and wrong in out, out

    setup.config(baseUrl=emu.base_url)
    setup.up([hook(0)])
    hooks0, providers0 = setup.state()
    assert {h["id"] for h in emu.webhooks()} == hooks0 and len(hooks0) == 1

    setup.config(baseUrl=wrong)
    out, took = setup.up([hook(0), hook(1)], ok=False)
    # the credentials check, when the provider starts, cannot connect
    assert "could not connect" in out and wrong in out and "credentials check" in out, out
    assert took < 30, f"a closed port took {took:.0f}s to fail with a 1 s retry window"
    emu.clear_requests()

    setup.config(baseUrl=emu.base_url)
    setup.up([hook(0), hook(1)])
    assert emu.requests("POST"), "the fixed URL was not called"
    assert setup.configured("baseUrl") == emu.base_url
    hooks1, providers1 = setup.state()
    assert hooks0 < hooks1 and len(hooks1) == 2 and providers1 == providers0
    assert {h["id"] for h in emu.webhooks()} == hooks1


def test_a_new_retry_window_and_timeout_are_used_by_the_next_up(emu: Emulator, setup: Setup) -> None:
    setup.config(apiKey=API_KEY, baseUrl=emu.base_url, timeoutSeconds=30, retryWindowSeconds=60)
    setup.up([hook(0)])
    hooks0, providers0 = setup.state()

    # a 1 s retry window gives up on a 30 s outage at once (the old 60 s window would wait it out)
    setup.config(retryWindowSeconds=1)
    emu.arm("outage", seconds=30)
    out, took = setup.up([hook(0), hook(1)], ok=False)
    emu.disarm()
    assert "503" in out, out
    assert took < 20, f"`up` took {took:.0f}s against an outage with a 1 s retry window"

    # a 1 s timeout gives up on a 4 s answer (the old 30 s timeout would wait for it); reads, not a POST,
    # which the API would apply after the client gave up on it
    setup.config(timeoutSeconds=1)
    emu.arm("latency", seconds=4, count=20, methods=["GET"])
    out, took = setup.up([hook(0)], "--refresh", "--run-program", ok=False)
    emu.disarm()
    assert "no answer within 1s" in out, out
    assert took < 20, f"`up` took {took:.0f}s with a 1 s timeout and a 1 s retry window"

    setup.config(timeoutSeconds=30, retryWindowSeconds=60)
    setup.up([hook(0), hook(1)])
    assert str(setup.configured("timeoutSeconds")) == "30" and str(setup.configured("retryWindowSeconds")) == "60"
    hooks1, providers1 = setup.state()
    assert hooks0 < hooks1 and len(hooks1) == 2 and providers1 == providers0
    assert {h["id"] for h in emu.webhooks()} == hooks1


@pytest.mark.parametrize("kind", ["pkg", "explicit"])
def test_a_secret_url_stays_secret_through_a_config_change(emu: Emulator, tmp_path: Path, kind: str) -> None:
    token = "tok-c0nf1g-8b2d"
    secret_url = f"https://hooks.example.com/secret/{{stack}}?token={token}"
    hooks = [hook(0, secret_url, secret=True), hook(1)]
    setup = Setup(tmp_path, kind)
    setup.config(apiKey=API_KEY, baseUrl=emu.base_url, timeoutSeconds=10, retryWindowSeconds=1)
    outs = [setup.up(hooks)[0]]
    ids0, providers0 = setup.state()

    setup.config(apiKey="wrong-key-77c1")
    out, _ = setup.up(hooks, "--refresh", "--run-program", ok=False)
    assert "HTTP 401" in out, out
    outs.append(out)
    setup.config(apiKey=API_KEY, timeoutSeconds=20)
    outs.append(setup.up(hooks, "--refresh", "--run-program")[0])
    outs.append(setup.p.run("preview", "--diff", "--stack", "dev").stdout)

    assert all(token not in out for out in outs), "the secret url is in the CLI output"
    ids1, providers1 = setup.state()
    assert ids1 == ids0 and providers1 == providers0, "a config change replaced something"
    exported = setup.p.export("dev")
    assert token not in json.dumps(exported), "the secret url is in `pulumi stack export`"
    (res,) = [r for r in exported["resources"] if r["type"] in TYPES and r["urn"].endswith("::hook-0")]
    secret_sig = "4dabf18193072939515e22adb298388d"
    assert secret_sig in json.dumps(res["outputs"]["url"]) and secret_sig in json.dumps(res["inputs"]["url"])
    assert API_KEY not in json.dumps(exported)
    revealed = json.dumps(setup.p.export("dev", show_secrets=True))
    assert token in revealed
    assert [h["url"] for h in emu.webhooks() if token in h["url"]] == [secret_url.replace("{stack}", "dev")]
