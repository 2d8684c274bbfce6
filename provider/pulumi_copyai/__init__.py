"""Copy.ai webhooks as Pulumi resources.

    from pulumi_copyai import CopyAIWebhook, EventType
    hook = CopyAIWebhook("runs-done", url="https://hooks.example.com/copyai",
                         event_type=EventType.WORKFLOW_RUN_COMPLETED, workflow_id="WCFG-...")

Configuration (stack config, else environment): `copyai:apiKey` (secret) / COPYAI_API_KEY,
`copyai:baseUrl` / COPYAI_BASE_URL (default https://api.copy.ai/api),
`copyai:timeoutSeconds` / COPYAI_TIMEOUT_SECONDS.

The resource classes import the Pulumi SDK lazily, so `import pulumi_copyai` stays cheap for the
emulator and the API client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .events import EVENT_TYPES, EventType

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .client import CopyAIClient
    from .component import WorkflowWebhooks, WorkflowWebhooksArgs
    from .errors import CopyAIError
    from .functions import get_webhook, get_webhook_output, get_webhooks, get_webhooks_output
    from .webhook import CopyAIWebhook, CopyAIWebhookArgs

_LAZY = {
    "CopyAIWebhook": "webhook",
    "CopyAIWebhookArgs": "webhook",
    "WorkflowWebhooks": "component",
    "WorkflowWebhooksArgs": "component",
    "CopyAIClient": "client",
    "CopyAIError": "errors",
    "get_webhook": "functions",
    "get_webhooks": "functions",
    "get_webhook_output": "functions",
    "get_webhooks_output": "functions",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pulumi_copyai' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)


__all__ = [
    "EVENT_TYPES",
    "CopyAIClient",
    "CopyAIError",
    "CopyAIWebhook",
    "CopyAIWebhookArgs",
    "EventType",
    "WorkflowWebhooks",
    "WorkflowWebhooksArgs",
    "__version__",
    "get_webhook",
    "get_webhook_output",
    "get_webhooks",
    "get_webhooks_output",
]
