"""`copyai:index:WorkflowWebhooks` in the plugin: one endpoint, several event types, as one unit.

Built in the provider process (the engine's Construct call): a component resource whose children
are `copyai:index:Webhook` resources, which the engine then creates through this same provider.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.provider import ConstructRequest, ConstructResponse
from pulumi.resource import DependencyResource
from pulumi.runtime.rpc import UNKNOWN

from .. import core
from ..validation import check_event_type

WEBHOOK = "copyai:index:Webhook"


def _as_input(value: PropertyValue | None) -> Any:
    """A construct input as a Pulumi input: unknowns, secrets and dependencies carried over."""
    if value is None:
        return None
    if not value.is_secret and not value.dependencies and not isinstance(value.value, Computed):
        return value.value
    known = not isinstance(value.value, Computed)
    resources: set[pulumi.Resource] = {DependencyResource(urn) for urn in value.dependencies}
    return pulumi.Output(resources, _done(value.value if known else None), _done(known), _done(value.is_secret))


def _done(value: Any) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def _event_types(value: PropertyValue | None) -> list[str]:
    if value is None or value.value is None:
        return list(core.DEFAULT_EVENTS)
    if isinstance(value.value, Computed):
        raise InputPropertyError("eventTypes", "eventTypes must be known when the program runs (not an output "
                                 "of another resource): it decides which webhooks exist")
    items = value.value if isinstance(value.value, (list, tuple)) else None
    if items is None:
        raise InputPropertyError("eventTypes", "eventTypes must be a list of event types")
    events = [item.value if isinstance(item, PropertyValue) else item for item in items]
    for index, event in enumerate(events):
        reason = check_event_type(event, f"eventTypes[{index}]")
        if reason is not None:
            raise InputPropertyError(f"eventTypes[{index}]", reason)
    names = [str(e) for e in events]
    reason = core.check_event_types(names, "eventTypes")
    if reason is not None:
        raise InputPropertyError("eventTypes", reason)
    return names


async def construct_workflow_webhooks(request: ConstructRequest) -> ConstructResponse:
    inputs = request.inputs
    events = _event_types(inputs.get("eventTypes"))
    if inputs.get("url") is None:
        raise InputPropertyError("url", "url is required: give the absolute https URL that should receive the events")
    component = pulumi.ComponentResource(
        "copyai:index:WorkflowWebhooks", request.name, None, request.options
    )
    child = pulumi.ResourceOptions(parent=component)
    url, workflow_id = _as_input(inputs.get("url")), _as_input(inputs.get("workflowId"))
    hooks = {
        event: pulumi.CustomResource(
            WEBHOOK, core.child_name(request.name, event),
            {"url": url, "eventType": event, "workflowId": workflow_id}, opts=child,
        )
        for event in events
    }
    webhook_ids = pulumi.Output.all(**{event: hook.id for event, hook in hooks.items()})
    component.register_outputs({"webhookIds": webhook_ids})
    urn = await component.urn.future()
    known = await webhook_ids.is_known()
    ids = await webhook_ids.future() if known else None
    value = PropertyValue({k: PropertyValue(v) for k, v in (ids or {}).items()}) if known else PropertyValue(UNKNOWN)
    deps = {str(await hook.urn.future()) for hook in hooks.values()}
    return ConstructResponse(urn=str(urn), state={"webhookIds": value.with_dependencies(deps)},
                             state_dependencies={"webhookIds": deps})
