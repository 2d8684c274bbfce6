"""Reliability through the real engine: 50 webhooks under faults end as exactly 50, at the API and
in the state; destroy leaves none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.conftest import API_KEY
from tests.engine import EngineStack

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

N = 50


def fifty(prefix: str = "https://hooks.example.com/team") -> dict[str, dict[str, Any]]:
    """The spec of N webhooks (tests/engine.py WEBHOOKS_MAIN declares one CopyAIWebhook per entry)."""
    return {f"hook-{i:02d}": {"url": f"{prefix}/{i}", "event_type": "workflowRun.completed"} for i in range(N)}


def assert_exactly_declared(emu: Emulator, stack: EngineStack) -> None:
    api = emu.webhooks()
    assert len(api) == N, f"{len(api)} webhooks at the API"
    assert len({h["url"] for h in api}) == N, "a webhook was registered twice"
    assert stack.webhook_ids() == {h["id"] for h in api}, "state and API disagree"


FAULTS: dict[str, dict[str, Any]] = {
    "drop_after_commit": {"mode": "drop_after_commit"},
    "429": {"mode": "status", "status": 429, "retry_after": 0.3},
    "503": {"mode": "status", "status": 503},
    "latency_beyond_timeout": {"mode": "latency", "seconds": 1.5},
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fifty_webhooks_under_faults(emu: Emulator, new_stack: Callable[..., EngineStack], fault: str) -> None:
    stack = new_stack(spec=fifty())
    stack.configure({"copyai:baseUrl": emu.base_url, "copyai:apiKey": API_KEY, "copyai:timeoutSeconds": "1"})
    emu.arm(**FAULTS[fault], probability=0.2)

    up = stack.up()
    emu.disarm()
    assert up.summary.resource_changes == {"create": N + 1}
    assert fired(emu) >= 5
    assert_exactly_declared(emu, stack)

    assert stack.preview(expect_no_changes=True).change_summary == {"same": N + 1}
    emu.clear_requests()
    emu.arm(**FAULTS[fault], probability=0.2)
    destroy = stack.destroy()
    emu.disarm()
    assert destroy.summary.resource_changes == {"delete": N + 1}
    assert fired(emu) >= 5
    assert emu.webhooks() == []
    assert stack.webhook_ids() == set()


def fired(emu: Emulator) -> int:
    return len([r for r in emu.requests() if r["fault"]])
