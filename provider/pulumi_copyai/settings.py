"""Provider configuration: stack config (`copyai:*`), then COPYAI_* environment variables, then defaults."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import CopyAIConfigError

DEFAULT_BASE_URL = "https://api.copy.ai/api"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_RETRY_WINDOW_SECONDS = 300.0
#: The stack config keys the provider reads (namespace `copyai`), with their environment fallbacks.
ENVIRONMENT: dict[str, str] = {
    "apiKey": "COPYAI_API_KEY",
    "baseUrl": "COPYAI_BASE_URL",
    "timeoutSeconds": "COPYAI_TIMEOUT_SECONDS",
    "retryWindowSeconds": "COPYAI_RETRY_WINDOW_SECONDS",
}
CONFIG_KEYS: tuple[str, ...] = tuple(ENVIRONMENT)


@dataclass(frozen=True)
class Settings:
    """Provider configuration; `api_key` is excluded from repr so it never reaches a log."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    retry_window: float = DEFAULT_RETRY_WINDOW_SECONDS

    @classmethod
    def resolve(cls, config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Config first (keys `copyai:apiKey` or `apiKey`), then COPYAI_* environment variables, then defaults."""
        config = config or {}
        environ = os.environ if environ is None else environ

        def pick(key: str) -> Any:
            value = config.get(f"copyai:{key}", config.get(key))
            return value if value not in (None, "") else environ.get(ENVIRONMENT[key]) or None

        return cls(
            base_url=str(pick("baseUrl") or DEFAULT_BASE_URL),
            api_key=pick("apiKey"),
            timeout=_seconds("timeoutSeconds", pick("timeoutSeconds"), DEFAULT_TIMEOUT_SECONDS, positive=True),
            retry_window=_seconds("retryWindowSeconds", pick("retryWindowSeconds"), DEFAULT_RETRY_WINDOW_SECONDS),
        )


def _seconds(key: str, raw: Any, default: float, positive: bool = False) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value) or math.isinf(value) or value < 0 or (positive and value == 0):
        env = ENVIRONMENT[key]
        raise CopyAIConfigError(
            "configure", f"copyai:{key} ({env}) must be a {'positive' if positive else 'non-negative'} number "
            f"of seconds, got {raw!r}: e.g. `pulumi config set copyai:{key} {int(default)}`")
    return value
