"""Reading the workspace: the data sources `getWebhook` / `getWebhooks` and the names of an import file.

Both front doors answer from here: the plugin's invokes (`copyai:index:getWebhook`, `getWebhooks`) and
the dynamic door's Python functions (`pulumi_copyai.get_webhook`, `get_webhooks`). The list is read by
pages through the lifecycle's snapshot and retry rules, as a refresh reads it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .core import Lifecycle
from .errors import CopyAIError, CopyAINotFoundError
from .model import Webhook

#: A path segment this long, mixing letters and digits, may be a token (e.g. /hooks/3f9c2a...).
TOKEN_SEGMENT = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_\-.~]{16,}$")


def might_hold_token(url: str) -> bool:
    """True for a url that may carry a credential: a query, a fragment, user info, or a token-like path
    segment. Such urls are returned as secrets and never named in an import file."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or parts.username or parts.password:
        return True
    return any(TOKEN_SEGMENT.match(segment) for segment in parts.path.split("/"))


@dataclass(frozen=True)
class Filter:
    """getWebhooks' optional filters; a webhook must pass every one given."""

    event_type: str | None = None
    workflow_id: str | None = None
    url_prefix: str | None = None

    def admits(self, hook: Webhook) -> bool:
        return ((self.event_type is None or hook.event_type == self.event_type)
                and (self.workflow_id is None or (hook.workflow_id or None) == (self.workflow_id or None))
                and (self.url_prefix is None or hook.url.startswith(self.url_prefix)))


def get_webhook(lifecycle: Lifecycle, webhook_id: str, deadline: float | None = None) -> Webhook:
    """The workspace's webhook with this id; a clear error when there is none."""
    try:
        return lifecycle.client.get_webhook(webhook_id, deadline=deadline)
    except CopyAINotFoundError:
        raise CopyAIError(
            "get webhook", f"no webhook with id {webhook_id!r} in the workspace at {lifecycle.client.base_url}; "
            "check the id (`copyai-audit` lists every webhook of the workspace)", status=404,
            error_code="NOT_FOUND") from None


def get_webhooks(lifecycle: Lifecycle, where: Filter = Filter(), deadline: float | None = None) -> list[Webhook]:
    """Every webhook of the workspace that passes `where`, in the API's order."""
    return [hook for hook in lifecycle.listing(deadline) if where.admits(hook)]


def import_names(hooks: Iterable[Webhook], secret_ids: Collection[str] = ()) -> dict[str, str]:
    """A readable, unique Pulumi resource name for each webhook (id -> name): the url's path segments
    and the event type, e.g. `copyai-v1-completed`; a token-like segment contributes nothing of itself,
    and the url of a webhook in `secret_ids` (one a stack keeps secret) nothing at all (`secret-started`)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for hook in hooks:
        parts = urlsplit(hook.url)
        segments = ["secret"] if hook.id in secret_ids else \
            [s for s in parts.path.split("/") if s and not TOKEN_SEGMENT.match(s)]
        base = "-".join([*segments[-3:], hook.event_type.split(".")[-1]]).lower()
        base = re.sub(r"[^a-z0-9]+", "-", base).strip("-") or "webhook"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        names[hook.id] = name
    return names
