"""At a failure the operator is told what is happening while it happens, through the `pulumi` CLI.

- a wait (an outage, a 429 pause, an ambiguous POST being settled) puts a status line on the resource's
  row: an ephemeral diagnostic with the resource's URN among the engine's events (`pulumi up --json`);
  the dynamic provider, which pulumi.dynamic gives no URN, logs it as an info line of the stack;
- when the window closes, the message says how many attempts, how long, and which setting bounds it;
- a wrong key or an unreachable API fails `pulumi preview` within seconds, naming the input the user
  set (stack config, or an explicit provider's input); `skipCredentialsCheck` previews offline.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.conftest import API_KEY
from tests.test_config_change_engine import SETUPS, Setup, closed_port, hook

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`


def events(text: str) -> list[dict[str, Any]]:
    """The engine events `pulumi up --json` streams: JSON objects one after the other."""
    decoder, found, i = json.JSONDecoder(), [], 0
    while True:
        start = text.find("{", i)
        if start < 0:
            return found
        try:
            value, i = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            i = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)


def status_lines(text: str) -> list[dict[str, Any]]:
    """The provider's status lines among the engine's events: ephemeral diagnostics (what the progress display
    shows on a resource's row), or the dynamic provider's info lines of the stack."""
    return [d for d in (e["diagnosticEvent"] for e in events(text) if "diagnosticEvent" in e)
            if d.get("ephemeral") or (d.get("severity") == "info" and not d.get("urn")
                                      and ("retrying" in d["message"] or "settling" in d["message"]))]


@pytest.fixture(params=["dyn", "pkg"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    return Setup(tmp_path, request.param)


def test_an_outage_shows_a_live_status_line_then_passes(emu: Emulator, setup: Setup) -> None:
    setup.config(apiKey=API_KEY, baseUrl=emu.base_url)
    setup.write([hook(0)])
    emu.arm("outage", seconds=10)
    done = setup.p.run("up", "--yes", "--skip-preview", "--stack", "dev", "--json", check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = status_lines(done.stdout)
    retrying = [d for d in lines if "retrying" in d["message"] or "settling" in d["message"]]
    assert retrying, f"no status line during a 10 s outage: {lines}"
    assert any("HTTP 503" in d["message"] and " s of " in d["message"] for d in retrying), retrying
    assert any("attempt " in d["message"] or "look " in d["message"] for d in retrying), retrying
    if setup.kind == "pkg":  # on the resource's own row, as a status that does not stay
        assert all(d.get("urn", "").endswith("::hook-0") and d.get("ephemeral") for d in retrying), retrying
    assert "copyai:retryWindowSeconds" in " ".join(d["message"] for d in retrying)
    assert len(emu.webhooks()) == 1

    # and nothing is said when nothing is wrong
    emu.disarm()
    setup.write([hook(0), hook(1)])
    quiet = setup.p.run("up", "--yes", "--skip-preview", "--stack", "dev", "--json")
    assert status_lines(quiet.stdout) == []


def test_a_closed_window_says_how_long_how_many_attempts_and_which_setting(
    emu: Emulator, setup: Setup
) -> None:
    setup.config(apiKey=API_KEY, baseUrl=emu.base_url, retryWindowSeconds=3)
    setup.write([hook(0)])
    setup.p.run("preview", "--stack", "dev")  # the credentials check passes before the outage
    emu.arm("outage", seconds=60)
    out, took = setup.up([hook(0)], ok=False)
    assert "gave up after" in out and " attempts in " in out, out
    assert "the retry window, 3 s, is copyai:retryWindowSeconds" in out, out
    assert took < 60


@pytest.mark.parametrize("kind", SETUPS)
def test_a_wrong_key_fails_preview_at_once_naming_the_input(emu: Emulator, tmp_path: Path, kind: str) -> None:
    setup = Setup(tmp_path, kind)
    setup.config(apiKey="wrong-key-3c9d", baseUrl=emu.base_url, timeoutSeconds=10, retryWindowSeconds=300)
    setup.write([hook(0)])
    started = time.monotonic()
    done = setup.p.run("preview", "--stack", "dev", check=False, timeout=120)
    took = time.monotonic() - started
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "HTTP 401" in out, out
    assert took < 10, f"a wrong key took {took:.0f} s to fail the preview"
    named = "the apiKey input of provider 'prov'" if kind == "explicit" else "copyai:apiKey"
    assert f"check {named}" in out and "credentials check" in out, out
    assert "wrong-key-3c9d" not in out
    assert emu.webhooks() == []


@pytest.mark.parametrize("kind", SETUPS)
def test_a_dead_port_fails_preview_quickly_and_skip_credentials_check_previews_offline(
    tmp_path: Path, kind: str
) -> None:
    setup = Setup(tmp_path, kind)
    dead = f"http://127.0.0.1:{closed_port()}/api"
    setup.config(apiKey=API_KEY, baseUrl=dead, timeoutSeconds=10, retryWindowSeconds=300)
    setup.write([hook(0)])
    started = time.monotonic()
    done = setup.p.run("preview", "--stack", "dev", check=False, timeout=120)
    took = time.monotonic() - started
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "could not connect" in out and "credentials check" in out, out
    named = "the baseUrl input of provider 'prov'" if kind == "explicit" else "copyai:baseUrl"
    assert f"check {named}" in out and "skipCredentialsCheck" in out, out
    assert took < 20, f"a dead port took {took:.0f} s to fail the preview"

    if kind == "explicit":
        program = json.loads((setup.p.dir / "Pulumi.yaml").read_text())
        program["resources"]["prov"]["properties"]["skipCredentialsCheck"] = True
        (setup.p.dir / "Pulumi.yaml").write_text(json.dumps(program, indent=1))
    else:
        setup.config(skipCredentialsCheck="true")
    setup.p.run("preview", "--stack", "dev")  # offline: nothing to check, nothing called
