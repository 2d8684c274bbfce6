"""copyai-recover's planning and state edit, on synthetic deployments (the engine path is in
test_interrupted_up.py)."""

from __future__ import annotations

import json
from typing import Any

from pulumi_copyai.client import Webhook
from pulumi_copyai.recover import SECRET_SIG, apply, plan

TYPE = "pulumi-python:dynamic/copyai:CopyAIWebhook"
URL = "https://hooks.example.com/a"


def resource(name: str, **inputs: Any) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:s::p::{TYPE}::{name}", "type": TYPE, "custom": True,
            "inputs": {"event_type": "workflowRun.completed", "__provider": "cGlja2xl", **inputs}}


def creating(res: dict[str, Any]) -> dict[str, Any]:
    return {"resource": res, "type": "creating"}


def test_plan_imports_registered_clears_the_rest_and_skips_owned_webhooks() -> None:
    owned = {**resource("owned", url=URL), "id": "w-owned", "outputs": {}}
    deployment = {
        "resources": [owned],
        "pending_operations": [
            creating(resource("dup", url=URL)),  # same fields as `owned`: must take the other webhook
            creating(resource("secret", url={SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270",
                                             "plaintext": json.dumps(URL + "?token=x")})),
            creating(resource("lost", url=URL + "/never")),
            {"resource": {"urn": "urn:other", "type": "aws:s3:Bucket"}, "type": "creating"},
        ],
    }
    hooks = [Webhook("w-owned", URL, "workflowRun.completed", None),
             Webhook("w-dup", URL, "workflowRun.completed", None),
             Webhook("w-secret", URL + "?token=x", "workflowRun.completed", None)]
    result = plan(deployment, hooks)
    assert result.imports == [(f"urn:pulumi:s::p::{TYPE}::dup", "w-dup"),
                              (f"urn:pulumi:s::p::{TYPE}::secret", "w-secret")]
    assert result.clears == [f"urn:pulumi:s::p::{TYPE}::lost"]
    assert result.others == 1

    edited = apply(deployment, result)
    assert [r.get("id") for r in edited["resources"]] == ["w-owned", "w-dup", "w-secret"]
    assert edited["resources"][1]["outputs"] == {"url": URL, "event_type": "workflowRun.completed",
                                                 "__provider": "cGlja2xl"}
    assert [op["resource"]["urn"] for op in edited["pending_operations"]] == ["urn:other"]
