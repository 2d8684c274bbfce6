"""WorkflowWebhooks: one endpoint hearing several event types, as one unit in `pulumi up`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import pulumi

from . import core
from .events import EventType
from .webhook import CopyAIWebhook

DEFAULT_EVENTS: tuple[EventType, ...] = tuple(EventType(e) for e in core.DEFAULT_EVENTS)


class WorkflowWebhooksArgs:
    """Inputs of WorkflowWebhooks.

    :param url: the endpoint that hears every event type below.
    :param event_types: which events (default: started, completed, failed).
    :param workflow_id: scope the webhooks to one workflow; None hears every workflow.
    """

    def __init__(
        self,
        url: pulumi.Input[str],
        event_types: Sequence[str | EventType] = DEFAULT_EVENTS,
        workflow_id: Optional[pulumi.Input[str]] = None,
    ) -> None:
        events = [e.value if isinstance(e, EventType) else str(e) for e in event_types]
        reason = core.check_event_types(events)
        if reason is not None:
            raise ValueError(f"WorkflowWebhooks: {reason}")
        self.url = url
        self.event_types: list[str] = events
        self.workflow_id = workflow_id


class WorkflowWebhooks(pulumi.ComponentResource):
    """Registers `url` for each of `event_types`; `webhook_ids` maps event type to webhook id."""

    webhooks: dict[str, CopyAIWebhook]
    webhook_ids: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        resource_name: str,
        args: Optional[WorkflowWebhooksArgs] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        url: Optional[pulumi.Input[str]] = None,
        event_types: Optional[Sequence[str | EventType]] = None,
        workflow_id: Optional[pulumi.Input[str]] = None,
    ) -> None:
        if args is None:
            if url is None:
                raise TypeError(f"WorkflowWebhooks {resource_name!r}: url is required")
            args = WorkflowWebhooksArgs(url, DEFAULT_EVENTS if event_types is None else event_types, workflow_id)
        super().__init__("copyai:index:WorkflowWebhooks", resource_name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.webhooks = {
            event: CopyAIWebhook(core.child_name(resource_name, event), args.url, event, args.workflow_id, opts=child)
            for event in args.event_types
        }
        self.webhook_ids = pulumi.Output.all(**{e: h.id for e, h in self.webhooks.items()})
        self.register_outputs({"webhook_ids": self.webhook_ids})
