"""The data sources for Python programs (the dynamic front door): what the plugin's `getWebhook` and
`getWebhooks` give other languages.

    from pulumi_copyai import get_webhooks_output
    done = get_webhooks_output(event_type="workflowRun.completed")
    pulumi.export("ids", done.apply(lambda hooks: [h["id"] for h in hooks]))

The plain functions answer at once (in a program, during preview too); the `_output` variants take
Inputs and return an Output, secret when a url may hold a credential. Configuration as for the
resources: `copyai:*` stack config, else the COPYAI_* variables.
"""

from __future__ import annotations

from typing import Any

import pulumi

from . import core, lookup
from .model import Webhook
from .settings import CONFIG_KEYS, Settings


def _lifecycle() -> core.Lifecycle:
    config = pulumi.Config("copyai")
    return core.lifecycle_for(Settings.resolve({f"copyai:{k}": config.get(k) for k in CONFIG_KEYS}, provider=""))


def _plain(hook: Webhook) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "event_type": hook.event_type, "workflow_id": hook.workflow_id}


def get_webhook(webhook_id: str) -> dict[str, Any]:
    """The workspace's webhook with this id: id, url, event_type, workflow_id; an error when none."""
    return _plain(lookup.get_webhook(_lifecycle(), webhook_id))


def get_webhooks(event_type: str | None = None, workflow_id: str | None = None,
                 url_prefix: str | None = None) -> list[dict[str, Any]]:
    """Every webhook of the workspace (read by pages), optionally filtered."""
    return [_plain(h) for h in lookup.get_webhooks(_lifecycle(), lookup.Filter(event_type, workflow_id, url_prefix))]


def _secret_if_needed(value: Any, urls: list[str]) -> pulumi.Output[Any]:
    out = pulumi.Output.from_input(value)
    return pulumi.Output.secret(value) if any(lookup.might_hold_token(u) for u in urls) else out


def get_webhook_output(webhook_id: pulumi.Input[str]) -> pulumi.Output[dict[str, Any]]:
    """`get_webhook` for an Input id; secret when the url may hold a credential."""
    return pulumi.Output.from_input(webhook_id).apply(
        lambda i: _secret_if_needed(found := get_webhook(i), [found["url"]]))


def get_webhooks_output(event_type: pulumi.Input[str] | None = None, workflow_id: pulumi.Input[str] | None = None,
                        url_prefix: pulumi.Input[str] | None = None) -> pulumi.Output[list[dict[str, Any]]]:
    """`get_webhooks` for Inputs; secret when any url may hold a credential."""
    return pulumi.Output.all(event_type, workflow_id, url_prefix).apply(
        lambda a: _secret_if_needed(found := get_webhooks(a[0], a[1], a[2]), [h["url"] for h in found]))
