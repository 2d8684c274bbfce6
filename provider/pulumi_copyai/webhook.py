"""CopyAIWebhook: one Copy.ai webhook as a Pulumi resource."""

from __future__ import annotations

from enum import Enum
from typing import Any, Optional

import pulumi
from pulumi.dynamic import Resource

from .events import EventType
from .provider import CopyAIWebhookProvider

_PROVIDER = CopyAIWebhookProvider()


class CopyAIWebhookArgs:
    """The inputs of a CopyAIWebhook.

    :param url: the absolute https URL that receives the events (plain http only for loopback hosts).
    :param event_type: one of `EventType` (e.g. "workflowRun.completed").
    :param workflow_id: only hear this workflow's events (e.g. "WCFG-..."); None or "" hears every workflow.
    :param import_id: adopt an existing webhook with this id instead of registering a new one; its
        url, event type and workflow must match the declared ones.
    """

    def __init__(
        self,
        url: pulumi.Input[str],
        event_type: pulumi.Input[str | EventType],
        workflow_id: Optional[pulumi.Input[str]] = None,
        import_id: Optional[pulumi.Input[str]] = None,
    ) -> None:
        self.url = url
        self.event_type = event_type
        self.workflow_id = workflow_id
        self.import_id = import_id


def _plain(value: Any) -> Any:
    """Enums become their string value and "" becomes None, also inside Outputs."""

    def convert(v: Any) -> Any:
        if isinstance(v, Enum):
            return v.value
        return None if v == "" else v

    if isinstance(value, pulumi.Output):
        return value.apply(convert)
    return convert(value)


class CopyAIWebhook(Resource, module="copyai", name="CopyAIWebhook"):
    """A Copy.ai webhook: `url` hears `event_type` events, of one workflow or of all.

    The resource id is the Copy.ai webhook id. Copy.ai has no update API, so changing `url`,
    `event_type` or `workflow_id` replaces the webhook (use `delete_before_replace=True` to avoid
    two live webhooks for a moment).
    """

    url: pulumi.Output[str]
    event_type: pulumi.Output[str]
    workflow_id: pulumi.Output[Optional[str]]
    #: Where the webhook was registered: the API's base URL and a fingerprint of the key (never the key).
    api_base_url: pulumi.Output[str]
    api_key_fingerprint: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        url: pulumi.Input[str] | CopyAIWebhookArgs | None = None,
        event_type: Optional[pulumi.Input[str | EventType]] = None,
        workflow_id: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        import_id: Optional[pulumi.Input[str]] = None,
        args: Optional[CopyAIWebhookArgs] = None,
    ) -> None:
        if isinstance(url, CopyAIWebhookArgs):
            args, url = url, None
        if args is not None:
            if url is not None or event_type is not None or workflow_id is not None or import_id is not None:
                raise TypeError(f"CopyAIWebhook {resource_name!r}: pass either a CopyAIWebhookArgs or keyword inputs")
            url, event_type, workflow_id, import_id = args.url, args.event_type, args.workflow_id, args.import_id
        props = {
            "url": url,
            "event_type": _plain(event_type),
            "workflow_id": _plain(workflow_id),
            "import_id": _plain(import_id),
            "api_base_url": None,  # outputs only
            "api_key_fingerprint": None,
        }
        super().__init__(_PROVIDER, resource_name, props, opts)
