"""The exceptions of pulumi-copyai: precise, with the operation, HTTP status, errorCode and details."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .model import describe_fields, describe_shape


class CopyAIError(Exception):
    """An API call failed. `operation`, `status`, `error_code` and `details` say how.

    `str(error)` is "Copy.ai <operation> failed: HTTP <status> <errorCode>: <message> (details: ...)";
    `message` is the part after the prefix, for composing messages without repeating it. The API's
    `details` are described by shape only (field names and types, e.g. "url (string)"), since an API
    may echo a secret url in them; the `details` attribute keeps them as answered.
    """

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        details: Any = None,
        ambiguous: bool = False,
        timed_out: bool = False,
        retry_after: float | None = None,
        unresolved: bool = False,
    ) -> None:
        self.operation = operation
        self.message = message
        self.status = status
        self.error_code = error_code
        self.details = details
        #: True when the request may have been applied although no usable answer arrived.
        self.ambiguous = ambiguous
        #: True when no answer came in time (the server may still be applying the request).
        self.timed_out = timed_out
        #: Seconds the API asked us to wait (Retry-After), when it said so.
        self.retry_after = retry_after
        #: The API's host name did not resolve (more likely a typo than an outage).
        self.unresolved = unresolved
        super().__init__(self._text())

    def _text(self) -> str:
        head = f"Copy.ai {self.operation} failed"
        if self.status is not None:
            head += f": HTTP {self.status}" + (f" {self.error_code}" if self.error_code else "")
        text = f"{head}: {self.message}"
        if self.details:
            text += f" (details: {_format_details(self.details)})"
        return text


class CopyAIConfigError(CopyAIError):
    """The client is misconfigured (missing API key, bad base URL); nothing was sent."""


class CopyAIAuthError(CopyAIError):
    """401/403: the API key is missing, wrong or expired."""


class CopyAINotFoundError(CopyAIError):
    """404 NOT_FOUND."""


class CopyAIValidationError(CopyAIError):
    """400/422: the API rejected the request's content."""


class CopyAIRateLimitError(CopyAIError):
    """429, still when the retry window closed."""


class CopyAIServerError(CopyAIError):
    """5xx, still when the retry window closed (for POST: at once, since it may have been applied)."""


class CopyAIConnectionError(CopyAIError):
    """No usable answer: connection refused, timeout or dropped connection."""


class CopyAIRedirectError(CopyAIError):
    """3xx: the API answered with a redirect. Redirects are never followed (the API key would go to
    another host with the request); the request was not applied where it was sent."""


class CopyAIResponseError(CopyAIError):
    """The API answered, but not with the JSON the contract documents: not JSON, too large, a field
    of the wrong type, or a 2xx whose body says `"status": "error"`."""


class CopyAIUnsettledError(CopyAIError):
    """A registration's fate is unknown: the POST may have been applied and the webhook list could
    not confirm either way before the retry window closed. Settle it with `copyai-recover`."""


def _format_details(details: Any) -> str:
    """The API's details by shape: "url (string), eventType (string)" for an object."""
    if isinstance(details, Mapping):
        return describe_fields(details)
    return describe_shape(details)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps, outermost first: urllib3's `reason`, an exception given as an
    argument (requests wraps that way), then `__cause__` / `__context__`."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        reason = getattr(cur, "reason", None)
        nested = reason if isinstance(reason, BaseException) else None
        if nested is None:
            nested = next((a for a in reversed(cur.args) if isinstance(a, BaseException)), None)
        cur = nested or cur.__cause__ or cur.__context__
