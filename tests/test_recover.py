"""copyai-recover's plan on synthetic deployments (the engine path is in test_interrupted_up.py and
test_recover_engine.py)."""

from __future__ import annotations

import json
from typing import Any

from pulumi_copyai.journal import Entry, key_record
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


def entry(url: str, *, existing: tuple[str, ...] = (), settled: str | None = None, webhook: str | None = None,
          urn: str | None = None, workflow_id: str | None = None) -> Entry:
    """A journal entry as a provider process writes it before its POST (and after, when it settled)."""
    return Entry("1-1", 0.0, urn, key_record(url, "workflowRun.completed", workflow_id), list(existing),
                 settled, webhook)


def hook(webhook_id: str, url: str = URL, workflow_id: str | None = None) -> Webhook:
    return Webhook(webhook_id, url, "workflowRun.completed", workflow_id)


def test_plan_removes_only_what_the_journal_attributes_and_clears_only_ours() -> None:
    owned = {**resource("owned", url=URL), "id": "w-owned", "outputs": {}}
    secret = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(URL + "?token=x")}
    plugin_urn = f"urn:pulumi:s::p::{PLUGIN}::plugin"
    deployment = {
        "resources": [owned],
        "pending_operations": [
            creating(resource("dup", url=URL)),  # same fields as `owned`: must take the other webhook
            creating(resource("secret", url=secret)),
            creating(resource("plugin", PLUGIN, url="https://HOOKS.example.com:443/p/", workflowId="WCFG-1")),
            creating(resource("lost", url=URL + "/never")),
            creating(resource("adopting", url=URL + "/old", import_id="w-old")),
            creating({"urn": "urn:other", "type": "aws:s3:Bucket"}),
            {"resource": {"urn": "urn:deleting", "type": DYNAMIC}, "type": "deleting"},
        ],
    }
    hooks = [hook("w-old", URL + "/old"), hook("w-owned"), hook("w-dup"), hook("w-secret", URL + "?token=x"),
             hook("w-plugin", "https://hooks.example.com/p", "WCFG-1")]
    entries = [entry(URL, existing=("w-owned",)),  # in flight when killed; w-owned existed before
               entry(URL + "?token=x", settled="registered", webhook="w-secret"),  # registered, answer not saved
               entry("https://hooks.example.com/p/", urn=plugin_urn, workflow_id="WCFG-1"),
               entry(URL + "/never", settled="not_registered")]
    result = plan(deployment, hooks, entries)
    urn = f"urn:pulumi:s::p::{DYNAMIC}::"
    assert result.removes == [(urn + "dup", "w-dup"), (urn + "secret", "w-secret"), (plugin_urn, "w-plugin")]
    assert result.clears == [urn + "dup", urn + "secret", plugin_urn, urn + "lost", urn + "adopting"]
    assert result.left == []
    assert result.others == ["urn:other"]
    assert result.other_ops == 1


def test_plan_never_removes_a_webhook_another_stack_records() -> None:
    deployment = {"resources": [], "pending_operations": [creating(resource("hook", url=URL))]}
    # killed while its POST was under way, never applied: the only look-alike is stack X's
    result = plan(deployment, [hook("w-x")], [entry(URL)], recorded={"w-x"})
    assert result.removes == [] and result.left == []


def test_plan_leaves_a_look_alike_that_existed_before_the_post() -> None:
    deployment = {"resources": [], "pending_operations": [creating(resource("hook", url=URL))]}
    result = plan(deployment, [hook("by-hand")], [entry(URL, existing=("by-hand",))])
    assert result.removes == []
    assert [(w, why) for _, w, why in result.left] == [("by-hand", "it existed before the interrupted run's POST")]


def test_plan_without_a_journal_entry_removes_nothing() -> None:
    deployment = {"resources": [], "pending_operations": [creating(resource("hook", url=URL))]}
    result = plan(deployment, [hook("w-1")], [])
    assert result.removes == [] and result.clears == [f"urn:pulumi:s::p::{DYNAMIC}::hook"]
    assert "no journal entry" in result.left[0][2]


def test_plan_leaves_every_look_alike_when_more_appeared_than_posts_were_in_flight() -> None:
    deployment = {"resources": [], "pending_operations": [creating(resource("hook", url=URL))]}
    result = plan(deployment, [hook("w-1"), hook("w-2")], [entry(URL)])
    assert result.removes == [] and sorted(w for _, w, _ in result.left) == ["w-1", "w-2"]


def test_plan_attributes_one_webhook_per_twin() -> None:
    deployment = {"resources": [], "pending_operations": [creating(resource("a", url=URL)),
                                                          creating(resource("b", url=URL))]}
    result = plan(deployment, [hook("w-1"), hook("w-2")], [entry(URL), entry(URL)])
    assert sorted(w for _, w in result.removes) == ["w-1", "w-2"]


def test_plan_removes_what_the_engine_saved_as_answered_in_a_pending_create() -> None:
    """Killed after the engine saved the provider's answer in the pending create, before it became a resource:
    the id in the pending operation is the webhook this create registered (seen in a loaded SIGKILL run)."""
    answered = {**resource("hook", url=URL), "id": "w-1", "outputs": {"url": URL}}
    deployment = {"resources": [], "pending_operations": [creating(answered)]}
    result = plan(deployment, [hook("w-1")], [entry(URL)])  # its journal entry never settled
    assert result.removes == [(f"urn:pulumi:s::p::{DYNAMIC}::hook", "w-1")] and result.left == []


def test_plan_does_not_spend_an_answered_creates_journal_entry_on_a_look_alike() -> None:
    answered = {**resource("hook", url=URL), "id": "w-1", "outputs": {"url": URL}}
    deployment = {"resources": [], "pending_operations": [creating(answered), creating(resource("twin", url=URL))]}
    # one POST in flight in the journal: the answered one's. w-2 appeared since, made by someone else
    result = plan(deployment, [hook("w-1"), hook("w-2")], [entry(URL)])
    assert result.removes == [(f"urn:pulumi:s::p::{DYNAMIC}::hook", "w-1")]
    assert [w for _, w, _ in result.left] == ["w-2"]


def test_plan_never_removes_an_answered_id_another_stack_records() -> None:
    answered = {**resource("hook", url=URL), "id": "w-x", "outputs": {"url": URL}}
    deployment = {"resources": [], "pending_operations": [creating(answered)]}
    result = plan(deployment, [hook("w-x")], [entry(URL)], recorded={"w-x"})
    assert result.removes == [] and result.clears == [f"urn:pulumi:s::p::{DYNAMIC}::hook"]
