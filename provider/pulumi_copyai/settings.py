"""Provider configuration: stack config (`copyai:*`), then COPYAI_* environment variables, then defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import CopyAIError

DEFAULT_BASE_URL = "https://api.copy.ai/api"
DEFAULT_TIMEOUT_SECONDS = 30.0
#: The stack config keys the provider reads (namespace `copyai`).
CONFIG_KEYS: tuple[str, ...] = ("apiKey", "baseUrl", "timeoutSeconds")


@dataclass(frozen=True)
class Settings:
    """Provider configuration; `api_key` is excluded from repr so it never reaches a log."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def resolve(cls, config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Stack config (`copyai:*`) first, then COPYAI_* environment variables, then defaults."""
        config = config or {}
        environ = os.environ if environ is None else environ

        def pick(key: str, env: str) -> Any:
            value = config.get(f"copyai:{key}")
            return value if value not in (None, "") else environ.get(env) or None

        raw_timeout = pick("timeoutSeconds", "COPYAI_TIMEOUT_SECONDS")
        try:
            timeout = float(raw_timeout) if raw_timeout is not None else DEFAULT_TIMEOUT_SECONDS
        except ValueError:
            raise CopyAIError("configure", f"copyai:timeoutSeconds must be a number, got {raw_timeout!r}") from None
        return cls(
            base_url=str(pick("baseUrl", "COPYAI_BASE_URL") or DEFAULT_BASE_URL),
            api_key=pick("apiKey", "COPYAI_API_KEY"),
            timeout=timeout,
        )
