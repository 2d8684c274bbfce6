"""The exceptions of pulumi-copyai: precise, with the operation, HTTP status, errorCode and details."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class CopyAIError(Exception):
    """An API call failed. `operation`, `status`, `error_code` and `details` say how."""

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
    ) -> None:
        self.operation = operation
        self.status = status
        self.error_code = error_code
        self.details = details
        #: True when the request may have been applied although no answer arrived.
        self.ambiguous = ambiguous
        #: True when no answer came in time (the server may still be applying the request).
        self.timed_out = timed_out
        parts = [f"Copy.ai {operation} failed"]
        if status is not None:
            parts.append(f"HTTP {status}" + (f" {error_code}" if error_code else ""))
        text = ": ".join(parts) + f": {message}"
        if details:
            text += f" (details: {_format_details(details)})"
        super().__init__(text)


class CopyAIConfigError(CopyAIError):
    """The client is misconfigured (missing API key, bad base URL); nothing was sent."""


class CopyAIAuthError(CopyAIError):
    """401/403: the API key is missing, wrong or expired."""


class CopyAINotFoundError(CopyAIError):
    """404 NOT_FOUND."""


class CopyAIValidationError(CopyAIError):
    """400/422: the API rejected the request's content."""


class CopyAIRateLimitError(CopyAIError):
    """429, still after the retries."""


class CopyAIServerError(CopyAIError):
    """5xx, still after the retries (for POST: at once, since it may have been applied)."""


class CopyAIConnectionError(CopyAIError):
    """No usable answer: connection refused, timeout or dropped connection."""


class CopyAIResponseError(CopyAIError):
    """The API answered, but not with the JSON the contract documents."""


def _format_details(details: Any) -> str:
    if isinstance(details, Mapping):
        return "; ".join(f"{k}: {v}" for k, v in details.items())
    return str(details)
