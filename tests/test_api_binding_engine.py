"""A stack is bound to the API that registered its webhooks, through the `pulumi` CLI, both front doors.

`real` stands in for Copy.ai, `demo` for the local emulator. The webhooks are registered at `real` with
the API chosen by the shell (COPYAI_BASE_URL / COPYAI_API_KEY, as the README's first real-key variant
once did); then a shell that points elsewhere (the other emulator, another key of the same host) runs
refresh, up and destroy. Each ends with nothing dropped from the state and nothing orphaned."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from pulumi_copyai.origin import key_fingerprint
from tests.cli import TYPES, Project, cli_env, hooks_for

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

DOORS = ["dyn", "pkg"]


@pytest.fixture
def real() -> Iterator[Emulator]:
    with Emulator(api_key="real-key-6a1b") as emu:
        yield emu


@pytest.fixture
def demo() -> Iterator[Emulator]:
    with Emulator(api_key="emulator-key") as emu:
        yield emu


def registered(tmp_path: Path, real: Emulator, front_door: str, n: int = 3) -> Project:
    (tmp_path / "state").mkdir(exist_ok=True)
    p = Project(tmp_path, front_door, cli_env(f"file://{tmp_path / 'state'}", real, tmp_path))
    (p.python if front_door == "dyn" else p.yaml)(hooks_for(front_door, n))
    p.run("stack", "init", "dev")
    p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    return p


def records(p: Project) -> dict[str, dict[str, Any]]:
    """webhook id -> its state outputs."""
    return {r["id"]: r["outputs"] for r in p.export("dev").get("resources") or [] if r["type"] in TYPES}


def out(done: Any) -> str:
    return str(done.stdout + done.stderr)


@pytest.mark.parametrize("front_door", DOORS)
def test_a_shell_pointing_at_another_api_drops_nothing_and_deletes_nothing(
    real: Emulator, demo: Emulator, tmp_path: Path, front_door: str
) -> None:
    p = registered(tmp_path, real, front_door)
    before = records(p)
    assert len(before) == 3 and set(before) == {h["id"] for h in real.webhooks()}
    base = "api_base_url" if front_door == "dyn" else "apiBaseUrl"
    fingerprint = "api_key_fingerprint" if front_door == "dyn" else "apiKeyFingerprint"
    assert {(o[base], o[fingerprint]) for o in before.values()} == {(real.base_url, key_fingerprint("real-key-6a1b"))}
    assert "real-key-6a1b" not in p.run("stack", "export", "--stack", "dev", "--show-secrets").stdout.replace(
        key_fingerprint("real-key-6a1b"), "")

    p.env.update(demo.env())  # a shell without the export: `make` once fell back to the emulator
    refresh = p.run("refresh", "--yes", "--skip-preview", "--stack", "dev", check=False)
    assert refresh.returncode != 0, out(refresh)
    assert f"was registered at {real.base_url}" in out(refresh) and "HTTP 404" in out(refresh), out(refresh)
    assert "COPYAI_FORGET_OTHER_API=1" in out(refresh) and "COPYAI_BASE_URL" in out(refresh)  # where it was set
    assert set(records(p)) == set(before), "a 404 from another API dropped webhooks from the state"

    up = p.run("up", "--yes", "--skip-preview", "--stack", "dev", check=False)
    assert up.returncode != 0 and "but the provider is now configured for" in out(up), out(up)
    assert "pulumi refresh" in out(up)
    assert demo.webhooks() == [], "an up against the other API reported 'unchanged' or registered copies there"

    destroy = p.run("destroy", "--yes", "--skip-preview", "--stack", "dev", check=False)
    assert destroy.returncode != 0, out(destroy)
    assert set(records(p)) == set(before), "destroy forgot webhooks the other API does not know"
    assert {h["id"] for h in real.webhooks()} == set(before), "nothing is orphaned at the real API"

    # The audit against the other API: the stack's webhooks live elsewhere; none is dangling there.
    audit = subprocess.run(["copyai-audit", "--json"], cwd=tmp_path, env=p.env, text=True, capture_output=True,
                           check=False, timeout=300)
    report = json.loads(audit.stdout)
    assert report["dangling"] == [] and {e["id"] for e in report["elsewhere"]} == set(before), audit.stdout

    p.env.update(real.env())  # the right shell again: everything is as it was
    p.run("refresh", "--yes", "--skip-preview", "--stack", "dev", "--expect-no-changes")
    p.run("destroy", "--yes", "--skip-preview", "--stack", "dev")
    assert real.webhooks() == [] and records(p) == {}


@pytest.mark.parametrize("front_door", DOORS)
def test_a_new_key_drops_nothing_and_moves_the_record_only_when_the_api_knows_the_webhook(
    tmp_path: Path, front_door: str
) -> None:
    with Emulator(api_key="real-key-6a1b", extra_args=["--api-key", "rotated-key-77c2"]) as real:
        p = registered(tmp_path, real, front_door, n=2)
        before = records(p)
        fingerprint = "api_key_fingerprint" if front_door == "dyn" else "apiKeyFingerprint"
        p.env["COPYAI_API_KEY"] = "rotated-key-77c2"

        # First as a key of another workspace: it sees an empty list and 404 for each id (the emulator's
        # faults answer so, without applying anything).
        real.arm("status", status=404, probability=1.0, methods=["GET", "DELETE"], path_prefix="/api/webhook/")
        real.arm("answer", body={"data": [], "total": 0}, probability=1.0, methods=["GET"], path_prefix="/api/webhook")
        refresh = p.run("refresh", "--yes", "--skip-preview", "--stack", "dev", check=False)
        assert refresh.returncode != 0 and "restore the API key of that workspace" in out(refresh), out(refresh)
        assert key_fingerprint("real-key-6a1b") in out(refresh) and "rotated-key-77c2" not in out(refresh)
        destroy = p.run("destroy", "--yes", "--skip-preview", "--stack", "dev", check=False)
        assert destroy.returncode != 0, out(destroy)
        real.disarm()
        assert set(records(p)) == set(before) and {h["id"] for h in real.webhooks()} == set(before)

        # Then as what it is, a new key of the same workspace: `up` asks for a refresh first, which
        # records the new key for each webhook; after it nothing changes.
        up = p.run("up", "--yes", "--skip-preview", "--stack", "dev", check=False)
        assert up.returncode != 0 and "run `pulumi refresh`" in out(up), out(up)
        p.run("refresh", "--yes", "--skip-preview", "--stack", "dev")
        after = records(p)
        assert set(after) == set(before)
        assert {o[fingerprint] for o in after.values()} == {key_fingerprint("rotated-key-77c2")}
        p.run("preview", "--expect-no-changes", "--stack", "dev")
        p.run("destroy", "--yes", "--skip-preview", "--stack", "dev")
        assert real.webhooks() == []


@pytest.mark.parametrize("front_door", DOORS)
def test_a_deliberate_move_forgets_the_old_webhooks_and_registers_new_ones(
    real: Emulator, demo: Emulator, tmp_path: Path, front_door: str
) -> None:
    p = registered(tmp_path, real, front_door, n=2)
    p.env.update(demo.env())
    p.env["COPYAI_FORGET_OTHER_API"] = "1"
    p.run("refresh", "--yes", "--skip-preview", "--stack", "dev")
    assert records(p) == {}
    p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    assert set(records(p)) == {h["id"] for h in demo.webhooks()} and len(demo.webhooks()) == 2
    assert len(real.webhooks()) == 2, "left at the old API, as the escape hatch says"
