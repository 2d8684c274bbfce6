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
    "skipCredentialsCheck": "COPYAI_SKIP_CREDENTIALS_CHECK",
}
CONFIG_KEYS: tuple[str, ...] = tuple(ENVIRONMENT)


@dataclass(frozen=True)
class SettingNames:
    """How messages name each setting: as the user set it (a stack config key, an environment variable,
    an explicit provider's input), or every place it may come from when that is not known."""

    api_key: str = "copyai:apiKey (or COPYAI_API_KEY, or an explicit provider's apiKey)"
    base_url: str = "copyai:baseUrl (or COPYAI_BASE_URL, or an explicit provider's baseUrl)"
    retry_window: str = "copyai:retryWindowSeconds (or COPYAI_RETRY_WINDOW_SECONDS, or an explicit provider's " \
        "retryWindowSeconds)"
    skip_check: str = "copyai:skipCredentialsCheck (or COPYAI_SKIP_CREDENTIALS_CHECK, or an explicit provider's " \
        "skipCredentialsCheck)"

    @classmethod
    def of(cls, provider: str | None, sources: Mapping[str, str]) -> SettingNames:
        """`provider`: None when unknown, "" for the default provider (the stack config), else an explicit
        provider's resource name; `sources`: for each key, "config", "environment" or "default"."""
        if provider is None:
            return cls()

        def name(key: str) -> str:
            if provider and sources.get(key) != "environment":
                return f"the {key} input of provider {provider!r}"
            if sources.get(key) == "environment":
                return ENVIRONMENT[key]
            return f"copyai:{key}"

        return cls(name("apiKey"), name("baseUrl"), name("retryWindowSeconds"), name("skipCredentialsCheck"))


@dataclass(frozen=True)
class Settings:
    """Provider configuration; `api_key` is excluded from repr so it never reaches a log."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    retry_window: float = DEFAULT_RETRY_WINDOW_SECONDS
    #: Skip the one list call that checks the key and URL when a provider starts (air-gapped previews).
    skip_credentials_check: bool = False
    names: SettingNames = field(default_factory=SettingNames)

    @classmethod
    def resolve(cls, config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
                provider: str | None = None) -> Settings:
        """Config first (keys `copyai:apiKey` or `apiKey`), then COPYAI_* environment variables, then defaults.
        `provider`: see `SettingNames.of`."""
        config = config or {}
        environ = os.environ if environ is None else environ
        sources: dict[str, str] = {}

        def pick(key: str) -> Any:
            value = config.get(f"copyai:{key}", config.get(key))
            if value not in (None, ""):
                sources[key] = "config"
                return value
            value = environ.get(ENVIRONMENT[key]) or None
            sources[key] = "environment" if value is not None else "default"
            return value

        return cls(
            base_url=str(pick("baseUrl") or DEFAULT_BASE_URL),
            api_key=pick("apiKey"),
            timeout=_seconds("timeoutSeconds", pick("timeoutSeconds"), DEFAULT_TIMEOUT_SECONDS, positive=True),
            retry_window=_seconds("retryWindowSeconds", pick("retryWindowSeconds"), DEFAULT_RETRY_WINDOW_SECONDS),
            skip_credentials_check=_flag("skipCredentialsCheck", pick("skipCredentialsCheck")),
            names=SettingNames.of(provider, sources),
        )


def _flag(key: str, raw: Any) -> bool:
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", ""):
        return False
    raise CopyAIConfigError(
        "configure", f"copyai:{key} ({ENVIRONMENT[key]}) must be true or false, got {raw!r}: "
        f"e.g. `pulumi config set copyai:{key} true`")


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
