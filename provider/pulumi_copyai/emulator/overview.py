"""What the emulator holds, in one JSON-able view: the source of the dashboard and of `GET /_admin/overview`.

Webhooks grouped by the API key that registered them (shown by the key's fingerprint, the one a stack's
state records as `apiKeyFingerprint`, never the key), the newest workflow runs and event deliveries,
the faults and quirks armed, and the credits left. Every URL in the view has its secrets masked
(`mask_url`): the view is for eyes, the JSON admin routes keep the raw data for tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..origin import key_fingerprint
from .faults import FaultInjector
from .quirks import Quirks
from .store import Store

#: The most webhooks, runs and deliveries the view lists (newest runs and deliveries first).
WEBHOOK_LIMIT = 500
RUN_LIMIT = 50
DELIVERY_LIMIT = 100
MASK = "***"


def mask_url(url: str) -> str:
    """`url` with every query value, the password and the fragment replaced by ***: what may be a token."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = f"{parts.username or ''}:{MASK}@{netloc.rsplit('@', 1)[1]}"
    except ValueError:  # not parseable (e.g. an unclosed IPv6 bracket): show no part that could hold a secret
        return url.split("?", 1)[0].split("#", 1)[0] + ("?" + MASK if "?" in url else "")
    # name=value keeps the name; a part without "=" (?3f9c2a...) may be the token itself
    query = "&".join(f"{part.split('=', 1)[0]}={MASK}" if "=" in part else MASK
                     for part in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, MASK if parts.fragment else ""))


@dataclass(frozen=True)
class Sources:
    """Where the view comes from: the emulator's own objects (app.py builds one)."""

    store: Store
    injector: FaultInjector
    api_keys: frozenset[str]
    deliveries: Callable[[int], tuple[int, list[dict[str, Any]]]]  # (how many, the newest n, oldest first)
    quirks: Callable[[], Quirks]
    credits: Callable[[], dict[str, Any]]


#: The settings a fault's row shows, in order, each when its test (mode, value) holds: those that differ from
#: the defaults or matter for the mode.
_SHOWN_SETTINGS: dict[str, Callable[[str, Any], bool]] = {
    "status": lambda mode, _: mode in ("status", "answer", "redirect"),
    "retry_after": lambda _, value: value is not None,
    "seconds": lambda mode, value: bool(value) and mode != "outage",
    "count": lambda _, value: value is not None,
    "probability": lambda _, value: value != 1.0,
    "after": lambda _, value: bool(value),
    "methods": lambda _, value: bool(value),
    "path_prefix": lambda _, value: value != "/api/",
    "rate": lambda mode, _: mode == "rate_limit",
    "burst": lambda mode, _: mode == "rate_limit",
    "refuse": lambda _, value: bool(value),
    "size": lambda mode, _: mode == "oversized",
    "commit": lambda _, value: bool(value),
    "location": lambda mode, _: mode == "redirect",
    "body": lambda mode, _: mode == "answer",
    "remaining_seconds": lambda mode, _: mode == "outage",
}


def _fault(fault: dict[str, Any]) -> dict[str, Any]:
    """A fault as the view shows it: its mode, id, hits and the settings that differ from the defaults."""
    mode = fault["mode"]
    settings = {name: mask_url(str(fault.get(name))) if name == "location" else fault.get(name)
                for name, shown in _SHOWN_SETTINGS.items() if shown(mode, fault.get(name))}
    spent = fault.get("count") == 0  # a counted fault that has fired its last time (kept for its hits)
    return {"id": fault["id"], "mode": mode, "hits": fault["hits"], "spent": spent, "settings": settings}


def overview(sources: Sources) -> dict[str, Any]:
    """The view (blocking: it reads the store; call it from a thread in async code)."""
    total_hooks, hooks = sources.store.list_webhooks(0, WEBHOOK_LIMIT)
    fingerprints = sorted({key_fingerprint(key) for key in sources.api_keys})
    groups: dict[str, list[dict[str, Any]]] = {fp: [] for fp in fingerprints}
    for hook in hooks:
        groups.setdefault(hook.key_fingerprint, []).append(
            {"id": hook.id, "url": mask_url(hook.url), "eventType": hook.event_type,
             "workflowId": hook.workflow_id or None})
    total_runs, runs = sources.store.recent_runs(RUN_LIMIT)
    total_deliveries, deliveries = sources.deliveries(DELIVERY_LIMIT)
    return {
        "keys": [{"fingerprint": fp, "accepted": fp in fingerprints, "webhooks": shown}
                 for fp, shown in groups.items()],
        "webhooks": {"total": total_hooks, "shown": len(hooks)},
        "runs": {"total": total_runs,
                 "recent": [{"id": r["id"], "workflowId": r["workflowId"], "status": r["status"],
                             "credits": r["credits"], "createdAt": r["createdAt"]} for r in runs]},
        "deliveries": {"total": total_deliveries, "recent": [_delivery(d) for d in reversed(deliveries)]},
        "faults": [_fault(f) for f in sources.injector.faults()],
        "quirks": sources.quirks().to_json(),
        "credits": sources.credits(),
    }


def _delivery(entry: dict[str, Any]) -> dict[str, Any]:
    url, masked = entry["url"], mask_url(entry["url"])
    error = entry.get("error")
    return {
        "seq": entry.get("seq"),
        "time": entry["time"],
        "webhookId": entry["webhookId"],
        "url": masked,
        "type": entry["type"],
        "status": entry.get("status"),
        "error": error.replace(url, masked) if error else None,  # an HTTP client's message may quote the url
        "duration": entry.get("duration"),
        "payload": json.dumps(entry.get("payload"), indent=2, sort_keys=True),
    }
