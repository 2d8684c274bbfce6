"""Input checks for a webhook: each returns None when fine, else a reason that names the property and the fix.

Each check takes the property's name as the front door spells it (`event_type` in Python,
`eventType` in the package's schema), so the messages are the same in every language but for it.
Reasons about `url` never repeat the URL: it may carry a token (and be a secret).
"""

from __future__ import annotations

import difflib
import ipaddress
import unicodedata
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from .events import EVENT_TYPES

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
#: The longest webhook id accepted (Copy.ai's ids are far shorter).
MAX_WEBHOOK_ID_LENGTH = 200


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: object, name: str = "url") -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"{name} is required: give the absolute https URL that should receive the events"
    if value != value.strip() or any(c.isspace() for c in value):
        return f"{name} contains whitespace: remove it (percent-encode it as %20 where it belongs in the URL)"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError as exc:
        return f"{name} is malformed ({exc}): give an absolute https URL"
    if not parts.scheme or not host:
        return (f"{name} is not an absolute URL: give one with scheme and host, "
                "such as https://hooks.example.com/copyai")
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not is_loopback(host):
            return (f"{name} uses plain http for host {host!r}: Copy.ai delivers events to https URLs; "
                    "use https (plain http is accepted only for loopback hosts such as 127.0.0.1)")
    elif scheme != "https":
        return f"{name} has scheme {parts.scheme!r}: use https"
    if parts.username or parts.password:
        return f"{name} for host {host!r} embeds credentials: put a token in the path or query instead"
    return None


def check_event_type(value: object, name: str = "event_type") -> str | None:
    if value in EVENT_TYPES:
        return None
    allowed = ", ".join(EVENT_TYPES)
    if not isinstance(value, str) or not value:
        return f"{name} is required: use one of {allowed}"
    by_lower = {e.lower(): e for e in EVENT_TYPES}
    guess = by_lower.get(value.lower()) or next(
        iter(difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.6)), None
    )
    hint = f"did you mean {by_lower.get(guess, guess)!r}? " if guess else ""
    return f"{name} {value!r} is not a Copy.ai event type: {hint}use one of {allowed}"


def check_workflow_id(value: object, name: str = "workflow_id") -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return f"{name} must be a string such as 'WCFG-...', got {type(value).__name__}"
    if value != value.strip() or any(c.isspace() for c in value):
        return f"{name} {value!r} contains whitespace: copy the id exactly from the workflow's API tab"
    if "/" in value:
        return f"{name} {value!r} contains '/': give the bare id (e.g. WCFG-...), not a URL or path"
    return None


def webhook_id_problem(value: object) -> str | None:
    """Why `value` cannot be a Copy.ai webhook id (it goes into the path /webhook/{id}), or None.

    `.` and `..` would name other routes however they are quoted; `/`, whitespace and control
    characters have no place in an id; an id is at most MAX_WEBHOOK_ID_LENGTH characters.
    """
    if not isinstance(value, str):
        return f"it must be a string, got {type(value).__name__}"
    if not value:
        return "it is empty"
    if value in (".", ".."):
        return f"{value!r} names a path, not a webhook"
    if len(value) > MAX_WEBHOOK_ID_LENGTH:
        return f"it is {len(value)} characters long, more than any webhook id ({MAX_WEBHOOK_ID_LENGTH} at most)"
    if "/" in value:
        return "it contains '/'"
    if any(c.isspace() for c in value):
        return "it contains whitespace"
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "it contains a control character"
    return None


def check_import_id(value: object, name: str = "import_id") -> str | None:
    if value is None or value == "":
        return None
    problem = webhook_id_problem(value)
    if problem is None:
        return None
    shown = repr(value) if not isinstance(value, str) or len(value) <= 60 else repr(value[:40]) + "..."
    return (f"{name} {shown} is not a Copy.ai webhook id: {problem}. Give the id exactly as Copy.ai reports "
            f"it (the `id` of the webhook in GET /webhook), or remove {name} to register a new webhook")


#: The checks, by the core's (snake_case) property name.
CHECKS: dict[str, Callable[[object, str], str | None]] = {
    "url": check_url,
    "event_type": check_event_type,
    "workflow_id": check_workflow_id,
    "import_id": check_import_id,
}


def check_inputs(
    inputs: Mapping[str, object], names: Mapping[str, str] | None = None, skip: Callable[[object], bool] | None = None
) -> list[tuple[str, str]]:
    """(property, reason) for each failing input; `names` maps the core's names to the front door's
    (properties it lacks are not checked); values for which `skip(value)` is true (unknowns) pass."""
    names = names or {key: key for key in CHECKS}
    failures = []
    for key, name in names.items():
        value = inputs.get(key)
        if skip is not None and skip(value):
            continue
        reason = CHECKS[key](value, name)
        if reason is not None:
            failures.append((name, reason))
    return failures
