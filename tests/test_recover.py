"""copyai-recover's plan on synthetic deployments (the engine path is in test_interrupted_up.py and
test_recover_engine.py)."""

from __future__ import annotations

import json
from typing import Any

from pulumi_copyai.model import Webhook
from pulumi_copyai.recover import SECRET_SIG, plan

DYNAMIC = "pulumi-python:dynamic/copyai:CopyAIWebhook"
PLUGIN = "copyai:index:Webhook"
URL = "https://hooks.example.com/a"


def resource(name: str, type_: str = DYNAMIC, **inputs: Any) -> dict[str, Any]:
    base = {"event_type": "workflowRun.completed"} if type_ == DYNAMIC else {"eventType": "workflowRun.completed"}
    return {"urn": f"urn:pulumi:s::p::{type_}::{name}", "type": type_, "custom": True,
            "inputs": {**base, "__provider": "cGlja2xl", **inputs}}


def creating(res: dict[str, Any]) -> dict[str, Any]:
    return {"resource": res, "type": "creating"}


def test_plan_removes_what_the_killed_run_registered_and_clears_only_ours() -> None:
    owned = {**resource("owned", url=URL), "id": "w-owned", "outputs": {}}
    deployment = {
        "resources": [owned],
        "pending_operations": [
            creating(resource("dup", url=URL)),  # same fields as `owned`: must take the other webhook
            creating(resource("secret", url={SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270",
                                             "plaintext": json.dumps(URL + "?token=x")})),
            creating(resource("plugin", PLUGIN, url="https://HOOKS.example.com:443/p/", workflowId="WCFG-1")),
            creating(resource("lost", url=URL + "/never")),
            creating(resource("adopting", url=URL + "/old", import_id="w-old")),
            creating({"urn": "urn:other", "type": "aws:s3:Bucket"}),
            {"resource": {"urn": "urn:deleting", "type": DYNAMIC}, "type": "deleting"},
        ],
    }
    hooks = [Webhook("w-old", URL + "/old", "workflowRun.completed", None),
             Webhook("w-owned", URL, "workflowRun.completed", None),
             Webhook("w-dup", URL, "workflowRun.completed", None),
             Webhook("w-secret", URL + "?token=x", "workflowRun.completed", None),
             Webhook("w-plugin", "https://hooks.example.com/p", "workflowRun.completed", "WCFG-1")]
    result = plan(deployment, hooks)
    urn = f"urn:pulumi:s::p::{DYNAMIC}::"
    assert result.removes == [(urn + "dup", "w-dup"), (urn + "secret", "w-secret"),
                              (f"urn:pulumi:s::p::{PLUGIN}::plugin", "w-plugin")]
    assert result.clears == [urn + "dup", urn + "secret", f"urn:pulumi:s::p::{PLUGIN}::plugin", urn + "lost",
                             urn + "adopting"]
    assert result.others == ["urn:other"]
    assert result.other_ops == 1


def test_plan_takes_the_newest_match_when_two_are_free() -> None:
    deployment = {"resources": [], "pending_operations": [creating(resource("hook", url=URL))]}
    hooks = [Webhook("older", URL, "workflowRun.completed", None), Webhook("newer", URL, "workflowRun.completed", None)]
    assert plan(deployment, hooks).removes == [(f"urn:pulumi:s::p::{DYNAMIC}::hook", "newer")]
