"""Acceptance tests of CopyAIWebhook through the real engine against the emulator.

create -> no-diff -> refresh no-diff -> replace -> out-of-band delete -> adopt -> destroy-check.

Each stack is a project directory whose __main__.py the Python language host runs (tests/engine.py);
most declare their webhooks in `spec`, written to spec.json before every operation.
"""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from pulumi import automation as auto

from pulumi_copyai import EventType
from pulumi_copyai.emulator.testing import Emulator
from tests.conftest import API_KEY
from tests.engine import EngineStack, pickled_providers

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

RECEIVER = "http://127.0.0.1:9/copyai"
WORKFLOW = "WCFG-0b7ac4d4-6f0e-4d8b-9a55-0d5a1c3e2f10"


def configured(stack: EngineStack, emu: Emulator, api_key: str = API_KEY) -> EngineStack:
    stack.configure({"copyai:baseUrl": emu.base_url, "copyai:apiKey": api_key})
    return stack


def api_state(emu: Emulator) -> dict[str, tuple[str, str, str | None]]:
    return {h["id"]: (h["url"], h["eventType"], h["workflowId"] or None) for h in emu.webhooks()}


def test_lifecycle_create_nodiff_replace_drift_destroy(emu: Emulator, new_stack: Callable[..., EngineStack]) -> None:
    spec: dict[str, dict[str, Any]] = {
        "runs-done": {"url": RECEIVER, "event_type": EventType.WORKFLOW_RUN_COMPLETED, "workflow_id": WORKFLOW},
        "all-failures": {"url": RECEIVER + "/failed", "event_type": "workflowRun.failed"},
    }
    stack = configured(new_stack(spec=spec), emu)

    # create: one view of the list before the first POST (provider/ownership.py), then one POST per webhook
    up = stack.up()
    assert up.summary.resource_changes == {"create": 3}
    assert emu.call_counts() == {"GET": 1, "POST": 2}
    assert emu.requests()[0]["method"] == "GET"
    ids = stack.webhook_ids()
    assert ids == set(api_state(emu)) and len(ids) == 2
    assert {r["type"] for r in stack.resources()} == {"pulumi-python:dynamic/copyai:CopyAIWebhook"}
    assert up.outputs["runs-done_event_type"].value == "workflowRun.completed"
    assert api_state(emu)[up.outputs["runs-done_id"].value] == (RECEIVER, "workflowRun.completed", WORKFLOW)

    # no perpetual diff: preview, then refresh, then preview again; preview makes no API call
    emu.clear_requests()
    assert stack.preview(expect_no_changes=True).change_summary == {"same": 3}
    assert emu.requests() == []
    refresh = stack.refresh(expect_no_changes=True)
    assert refresh.summary.resource_changes == {"same": 3}
    # reads only: one GET per webhook, or one snapshot of the list shared by both (provider/core.py)
    assert set(emu.call_counts()) == {"GET"} and 1 <= emu.call_counts()["GET"] <= 2
    assert stack.preview(expect_no_changes=True).change_summary == {"same": 3}
    assert stack.up().summary.resource_changes == {"same": 3}

    # change event_type: only that webhook is replaced; old id gone at the API, new one present
    old_id = up.outputs["runs-done_id"].value
    other_id = up.outputs["all-failures_id"].value
    spec["runs-done"]["event_type"] = "workflowRun.started"
    preview = stack.preview(diff=True)
    assert preview.change_summary == {"replace": 1, "same": 2}
    assert "event_type" in preview.stdout and "workflowRun.started" in preview.stdout
    emu.clear_requests()
    up2 = stack.up()
    assert up2.summary.resource_changes == {"replace": 1, "same": 2}
    assert emu.call_counts() == {"GET": 1, "POST": 1, "DELETE": 1}
    new_id = up2.outputs["runs-done_id"].value
    state = api_state(emu)
    assert old_id not in state and other_id in state
    assert state[new_id] == (RECEIVER, "workflowRun.started", WORKFLOW)

    # deleted out of band: refresh drops it, up recreates it
    assert emu.api("DELETE", f"/webhook/{new_id}").status_code in (200, 202)  # Copy.ai answers 202 {}
    refresh = stack.refresh()
    assert refresh.summary.resource_changes == {"delete": 1, "same": 2}
    assert new_id not in stack.webhook_ids()
    recreated = stack.up()
    assert recreated.summary.resource_changes == {"create": 1, "same": 2}
    assert set(api_state(emu)) == stack.webhook_ids()

    # destroy leaves the API empty
    emu.clear_requests()
    destroy = stack.destroy()
    assert destroy.summary.resource_changes == {"delete": 3}
    assert emu.call_counts() == {"DELETE": 2}
    assert emu.webhooks() == []


def test_delete_before_replace_never_has_two_live_webhooks(
    emu: Emulator, new_stack: Callable[..., EngineStack]
) -> None:
    spec: dict[str, dict[str, Any]] = {"hook": {
        "url": RECEIVER, "event_type": "workflowRun.completed", "delete_before_replace": True,
    }}
    stack = configured(new_stack(spec=spec), emu)
    stack.up()
    spec["hook"]["url"] = RECEIVER + "/v2"
    emu.clear_requests()
    assert stack.up().summary.resource_changes == {"replace": 1, "same": 1}
    assert [r["method"] for r in emu.requests()] == ["DELETE", "GET", "POST"]  # the view, then the POST
    assert [h["url"] for h in emu.webhooks()] == [RECEIVER + "/v2"]
    stack.destroy()


def test_args_object_and_workflow_id_empty_string_mean_the_same(
    emu: Emulator, new_stack: Callable[..., EngineStack]
) -> None:
    state: dict[str, str | None] = {"workflow": ""}
    program = textwrap.dedent(f'''
        import json
        import pulumi
        from pulumi_copyai import CopyAIWebhook, CopyAIWebhookArgs

        workflow = json.load(open("spec.json"))["workflow"]
        hook = CopyAIWebhook("via-args", CopyAIWebhookArgs("{RECEIVER}", "workflowRun.failed", workflow))
        pulumi.export("workflow_id", hook.workflow_id)
    ''')
    stack = configured(new_stack(program, spec=state), emu)
    up = stack.up()
    assert "workflow_id" not in up.outputs  # a None output is not exported
    assert [(r["outputs"]["event_type"], r["outputs"].get("workflow_id")) for r in stack.resources()] == [
        ("workflowRun.failed", None)
    ]
    assert [h["workflowId"] for h in emu.webhooks()] == [None]
    state["workflow"] = None
    assert stack.preview(expect_no_changes=True).change_summary == {"same": 2}
    stack.destroy()


def test_adopt_an_existing_webhook_by_import_id(emu: Emulator, new_stack: Callable[..., EngineStack]) -> None:
    existing = emu.api("POST", "/webhook", json={"url": RECEIVER, "eventType": "workflowRun.completed",
                                                  "workflowId": WORKFLOW}).json()["data"]["id"]
    spec: dict[str, dict[str, Any]] = {"adopted": {
        "url": RECEIVER, "event_type": "workflowRun.completed", "workflow_id": WORKFLOW, "import_id": existing,
    }}
    stack = configured(new_stack(spec=spec), emu)
    emu.clear_requests()
    up = stack.up()
    assert up.outputs["adopted_id"].value == existing
    assert emu.call_counts() == {"GET": 1}  # adopted, not registered again
    assert [h["id"] for h in emu.webhooks()] == [existing]

    # dropping import_id afterwards changes nothing
    del spec["adopted"]["import_id"]
    assert stack.preview(expect_no_changes=True).change_summary == {"same": 2}
    stack.destroy()
    assert emu.webhooks() == []


def test_adoption_refuses_a_mismatch_and_an_unknown_id(emu: Emulator, new_stack: Callable[..., EngineStack]) -> None:
    existing = emu.api("POST", "/webhook", json={"url": RECEIVER, "eventType": "workflowRun.failed"}).json()
    existing_id = existing["data"]["id"]
    spec: dict[str, dict[str, Any]] = {"adopted": {
        "url": RECEIVER, "event_type": "workflowRun.completed", "import_id": existing_id,
    }}
    stack = configured(new_stack(spec=spec), emu)
    with pytest.raises(auto.CommandError) as err:
        stack.up()
    assert "event_type is 'workflowRun.failed' at Copy.ai but 'workflowRun.completed' in the program" in str(err.value)
    spec["adopted"]["import_id"] = "no-such-webhook"
    with pytest.raises(auto.CommandError) as err:
        stack.up()
    assert "import_id 'no-such-webhook': no such webhook" in str(err.value)
    assert [h["id"] for h in emu.webhooks()] == [existing_id]  # nothing registered, nothing lost
    assert stack.webhook_ids() == set()


def test_api_key_is_stored_nowhere(emu: Emulator, new_stack: Callable[..., EngineStack]) -> None:
    spec: dict[str, dict[str, Any]] = {"hook": {"url": RECEIVER, "event_type": "workflowRun.completed"}}
    b64 = base64.b64encode(API_KEY.encode()).decode()

    # through secret stack config
    stack = configured(new_stack(spec=spec), emu)
    stack.up()
    plain = json.dumps(stack.export())
    assert API_KEY not in plain and b64 not in plain
    blobs = list(pickled_providers(stack.export(show_secrets=True)))
    assert blobs, "expected the pickled __provider of the webhook"
    for blob in blobs:
        assert API_KEY.encode() not in blob and b64.encode() not in blob
        assert b"pulumi_copyai.provider" in blob and len(blob) < 1024  # pickled by reference, tiny
    stack.destroy()

    # through the environment only: not even the encrypted config holds it
    env_stack = new_stack(spec=spec, env=emu.env(), name="env-only")
    env_stack.up()
    shown = json.dumps(env_stack.export(show_secrets=True))
    assert API_KEY not in shown and b64 not in shown
    env_stack.destroy()
    assert emu.webhooks() == []


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_wrong_api_key_fails_clearly(
    emu: Emulator, new_stack: Callable[..., EngineStack], key: str | None
) -> None:
    spec: dict[str, dict[str, Any]] = {"hook": {"url": RECEIVER, "event_type": "workflowRun.completed"}}
    stack = new_stack(spec=spec)
    stack.configure({"copyai:baseUrl": emu.base_url, **({"copyai:apiKey": key} if key else {})})
    with pytest.raises(auto.CommandError) as err:
        stack.up()
    message = str(err.value)
    if key:
        assert "HTTP 401 UNAUTHORIZED" in message and "check copyai:apiKey" in message
        assert key not in message
    else:
        assert "no API key" in message and "copyai:apiKey" in message and "COPYAI_API_KEY" in message
    assert emu.webhooks() == []
    assert stack.webhook_ids() == set()


def test_unrelated_changes_replace_nothing(emu: Emulator, new_stack: Callable[..., EngineStack]) -> None:
    spec: dict[str, dict[str, Any]] = {
        f"hook-{i}": {"url": f"{RECEIVER}/{i}", "event_type": "workflowRun.completed"} for i in range(3)
    }
    stack = configured(new_stack(spec=spec), emu)
    stack.up()
    before = stack.webhook_ids()
    stack.configure({"copyai-test:unrelated": "some value", "copyai:timeoutSeconds": "20"})
    assert stack.preview(expect_no_changes=True).change_summary == {"same": 4}
    spec["hook-1"]["url"] = f"{RECEIVER}/one"
    assert stack.up().summary.resource_changes == {"replace": 1, "same": 3}
    after = stack.webhook_ids()
    assert len(before & after) == 2
    stack.destroy()
