"""WorkflowWebhooks through the real engine: one URL, several event types, one unit."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from pulumi_copyai import EventType, WorkflowWebhooksArgs
from pulumi_copyai.emulator.testing import Emulator
from tests.engine import EngineStack

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

URL = "http://127.0.0.1:9/pipeline"


def test_component_registers_each_event_and_parents_its_children(
    emu: Emulator, new_stack: Callable[..., EngineStack]
) -> None:
    spec: dict[str, list[str]] = {"events": []}  # empty: the component's default event types
    program = textwrap.dedent(f'''
        import json
        import pulumi
        from pulumi_copyai import EventType, WorkflowWebhooks, WorkflowWebhooksArgs

        events = json.load(open("spec.json"))["events"]
        group = WorkflowWebhooks("pipeline", url="{URL}", workflow_id="WCFG-7",
                                 **({{"event_types": events}} if events else {{}}))
        everywhere = WorkflowWebhooks("alerts", WorkflowWebhooksArgs("{URL}/alerts", [EventType.WORKFLOW_RUN_FAILED]))
        pulumi.export("ids", group.webhook_ids)
        pulumi.export("alert_ids", everywhere.webhook_ids)
    ''')

    stack = new_stack(program, spec=spec, env=emu.env())
    up = stack.up()
    assert up.summary.resource_changes == {"create": 7}  # stack, 2 components, 3 + 1 webhooks
    ids = up.outputs["ids"].value
    assert set(ids) == {"workflowRun.started", "workflowRun.completed", "workflowRun.failed"}
    api = {h["id"]: (h["url"], h["eventType"], h["workflowId"]) for h in emu.webhooks()}
    for event, webhook_id in ids.items():
        assert api[webhook_id] == (URL, event, "WCFG-7")
    assert api[up.outputs["alert_ids"].value["workflowRun.failed"]] == (URL + "/alerts", "workflowRun.failed", None)

    resources = stack.export()["deployment"]["resources"]
    (component,) = [r for r in resources if r["type"] == "copyai:index:WorkflowWebhooks" and
                    r["urn"].endswith("::pipeline")]
    children = [r for r in resources if r.get("parent") == component["urn"]]
    assert sorted(r["urn"].rsplit("::", 1)[1] for r in children) == [
        "pipeline-completed", "pipeline-failed", "pipeline-started"]
    assert stack.preview(expect_no_changes=True).change_summary == {"same": 7}

    # dropping one event type removes exactly that webhook
    spec["events"] = ["workflowRun.started", "workflowRun.completed"]
    assert stack.up().summary.resource_changes == {"delete": 1, "same": 6}
    assert ids["workflowRun.failed"] not in {h["id"] for h in emu.webhooks()}
    stack.destroy()
    assert emu.webhooks() == []


def test_component_rejects_empty_and_duplicate_event_types() -> None:
    with pytest.raises(ValueError, match="at least one event type"):
        WorkflowWebhooksArgs(URL, [])
    with pytest.raises(ValueError, match="lists an event type twice"):
        WorkflowWebhooksArgs(URL, ["workflowRun.started", EventType.WORKFLOW_RUN_STARTED])
