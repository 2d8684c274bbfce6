"""What a Copy.ai webhook is, and the one rule that decides whether two are the same webhook."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: A field name shown in a shape description; any other name (it may be a value: a url) is withheld.
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def normalize_url(url: str) -> str:
    """The form of `url` that an API may store: scheme and host lower-cased, the default port
    dropped, and the path without trailing slashes. Path case, query and fragment are kept.

    Used only to compare URLs, never to send or store one.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, parts.fragment))


def same_url(a: str | None, b: str | None) -> bool:
    """True when `a` and `b` name the same endpoint, as far as an API's normalization goes."""
    if a is None or b is None:
        return a == b
    return a == b or normalize_url(a) == normalize_url(b)


@dataclass(frozen=True)
class Webhook:
    """A webhook as the API reports it; `workflow_id` is None for a webhook that hears every workflow."""

    id: str
    url: str
    event_type: str
    workflow_id: str | None

    @classmethod
    def from_api(cls, data: Any) -> Webhook | None:
        """The webhook in an API object, or None when the object is not one: `id` (non-empty), `url`
        and `eventType` must be strings, `workflowId` a string, null or absent ("" means none).

        A field of another type (a numeric `workflowId`, say) is a malformed answer, never coerced:
        stored as given it would differ from the declared value on every run.
        """
        if not isinstance(data, Mapping):
            return None
        webhook_id, url, event_type = data.get("id"), data.get("url"), data.get("eventType")
        workflow_id = data.get("workflowId")
        if not isinstance(webhook_id, str) or not webhook_id or not isinstance(url, str) \
                or not isinstance(event_type, str) or not (workflow_id is None or isinstance(workflow_id, str)):
            return None
        return cls(id=webhook_id, url=url, event_type=event_type, workflow_id=workflow_id or None)

    def matches(self, url: str, event_type: str, workflow_id: str | None) -> bool:
        """Same url (normalized), event type and workflow ("" and None both mean every workflow)."""
        return (
            self.event_type == event_type
            and (self.workflow_id or None) == (workflow_id or None)
            and same_url(self.url, url)
        )


def describe_shape(value: Any, depth: int = 0) -> str:
    """A description of a JSON value by its field names and types, never its values (they may
    hold a secret url, or other webhooks' urls)."""
    if isinstance(value, Mapping):
        if not value:
            return "an empty object"
        if depth >= 1:
            return "an object"
        return f"an object with {describe_fields(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)" + (f", the first {describe_shape(value[0], depth + 1)}" if value
                                                     and depth == 0 else "")
    return _type_name(value)


def describe_fields(value: Mapping[Any, Any], limit: int = 12) -> str:
    """"name (type), ..." for the first `limit` fields of an object; a name that does not look like
    a field name (it could be a value, such as a url) is shown as "<name withheld>"."""
    shown = ", ".join(f"{_field_name(k)} ({_type_name(v)})" for k, v in list(value.items())[:limit])
    return shown + (", ..." if len(value) > limit else "")


def _field_name(key: Any) -> str:
    return key if isinstance(key, str) and _FIELD_NAME.fullmatch(key) else "<name withheld>"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "list"
    return type(value).__name__
