"""Which API a webhook was registered at, and what a 404 proves.

A webhook id means something only at the API (base URL) and workspace (API key) that issued it.
Each webhook's state records both as its *origin*: the base URL and a short, non-reversible
fingerprint of the key (never the key). A 404 proves the webhook gone only when it comes from that
origin; from another one (a shell without `COPYAI_BASE_URL`, the emulator instead of Copy.ai, a key
of another workspace) it proves nothing, so the read or delete fails and names both APIs and the
setting to restore. A 200 from the new API (the same workspace under a new key or host) moves the
record. A deliberate move, whose old webhooks are to be forgotten, is `COPYAI_FORGET_OTHER_API=1`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import CopyAIError

#: Output names (snake_case; the plugin's schema spells them apiBaseUrl and apiKeyFingerprint).
BASE_URL_OUTPUT = "api_base_url"
FINGERPRINT_OUTPUT = "api_key_fingerprint"
OUTPUTS: tuple[str, ...] = (BASE_URL_OUTPUT, FINGERPRINT_OUTPUT)
#: The escape hatch for a deliberate move to another API: its 404s then count as gone.
FORGET_ENV = "COPYAI_FORGET_OTHER_API"


def key_fingerprint(api_key: str | None) -> str:
    """12 hex digits of SHA-256 over the key: tells two keys apart, gives nothing of either away."""
    return hashlib.sha256(f"pulumi-copyai:{api_key or ''}".encode()).hexdigest()[:12]


def normalized_base_url(base_url: str) -> str:
    """The base URL with scheme and host lower-cased and no trailing slash."""
    parts = urlsplit(base_url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class Origin:
    """An API (base URL) and workspace (key fingerprint)."""

    base_url: str
    fingerprint: str

    @classmethod
    def of(cls, base_url: str, api_key: str | None) -> Origin:
        return cls(normalized_base_url(base_url), key_fingerprint(api_key))

    @classmethod
    def recorded(cls, state: Mapping[str, Any] | None) -> Origin | None:
        """The origin a webhook's state records; None for a state written before origins were recorded."""
        base_url, fingerprint = (state or {}).get(BASE_URL_OUTPUT), (state or {}).get(FINGERPRINT_OUTPUT)
        if isinstance(base_url, str) and base_url and isinstance(fingerprint, str) and fingerprint:
            return cls(normalized_base_url(base_url), fingerprint)
        return None

    def outputs(self) -> dict[str, str]:
        return {BASE_URL_OUTPUT: self.base_url, FINGERPRINT_OUTPUT: self.fingerprint}

    def describe(self) -> str:
        return f"{self.base_url} (key fingerprint {self.fingerprint})"


def forget_other_api(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the operator declared a deliberate move (its 404s mean gone)."""
    return (os.environ if environ is None else environ).get(FORGET_ENV, "").strip().lower() in ("1", "true", "yes")


def not_found_proves_gone(recorded: Origin | None, current: Origin) -> bool:
    """A 404 from `current` proves the webhook gone only when `current` registered it (or the operator
    declared a move). A state without a record proves nothing either way: it is treated as recorded
    at the current API, as before records existed (its live webhooks get a record at the next read)."""
    return recorded is None or recorded == current or forget_other_api()


def _restore(recorded: Origin, current: Origin, setting: str) -> str:
    """What to set back, naming only what differs."""
    what = []
    if recorded.base_url != current.base_url:
        what.append(f"restore {setting} to {recorded.base_url}")
    if recorded.fingerprint != current.fingerprint:
        what.append("restore the API key of that workspace (copyai:apiKey or COPYAI_API_KEY, or an explicit "
                    f"provider's apiKey; its fingerprint is {recorded.fingerprint})")
    return " and ".join(what)


def moved_error(webhook_id: str, recorded: Origin | None, current: Origin, setting: str) -> CopyAIError | None:
    """At a diff: the refusal when the provider is configured for another API than the one that registered
    the webhook (an `up` would otherwise report it unchanged while it lives elsewhere), else None."""
    if recorded is None or recorded == current:
        return None
    return CopyAIError(
        "check webhook",
        f"webhook {webhook_id} was registered at {recorded.describe()}, but the provider is now configured for "
        f"{current.describe()}. Nothing was changed. If the stack belongs to the first API, "
        f"{_restore(recorded, current, setting)} and run again. If the new settings reach the same workspace "
        "(a new key or host), run `pulumi refresh`: "
        "it records the new API for every webhook found there. For a deliberate move to another workspace, "
        f"`{FORGET_ENV}=1 pulumi refresh` also drops the webhooks the new API does not know (they stay at the "
        "old one), and the next `pulumi up` registers them at the new API",
    )


def elsewhere_error(operation: str, webhook_id: str, recorded: Origin, current: Origin, setting: str) -> CopyAIError:
    """The refusal when another API than the registering one says 404."""
    return CopyAIError(
        operation,
        f"webhook {webhook_id} was registered at {recorded.describe()}, but the provider now talks to "
        f"{current.describe()}, which does not know it (HTTP 404). That proves nothing about the webhook, so it "
        f"was kept in the stack and nothing was deleted. If the stack belongs to the first API, "
        f"{_restore(recorded, current, setting)} and run again. If the move is deliberate and the webhooks "
        "at the old API are to "
        f"be forgotten (left there, dropped from the stack), run once with {FORGET_ENV}=1",
        status=404, error_code="NOT_FOUND",
    )
