"""The dynamic provider behind CopyAIWebhook: a thin adapter from Pulumi's dynamic-provider API to `core`.

The provider object is pickled into every resource's state (by reference: this module and class
name must stay), so it carries nothing: no API key, no HTTP session. Configuration arrives in
`configure` (stack config, then environment) and lives in this module; the HTTP client and the
lifecycle are built on first use, one per process and settings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
)
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from . import core, status
from .core import OUTPUTS, REPLACE_ON_CHANGE, Declared
from .engine_log import EngineLog, engine_address
from .errors import CopyAIError
from .settings import CONFIG_KEYS, Settings

T = TypeVar("T")

__all__ = ["OUTPUTS", "REPLACE_ON_CHANGE", "CopyAIWebhookProvider", "Settings", "is_unknown"]


class _Process:
    """Per-process provider state: the stack config from `configure`."""

    config: dict[str, Any] | None = None
    _settings: Settings | None = None

    def configure(self, config: dict[str, Any]) -> None:
        self.config, self._settings = config, None

    def settings(self) -> Settings:
        """Resolved once per configuration (the stack config: no explicit providers here)."""
        if self._settings is None:
            self._settings = Settings.resolve(self.config, provider="")
        return self._settings

    def lifecycle(self) -> core.Lifecycle:
        return core.lifecycle_for(self.settings())

    def reporting(self) -> Any:
        """Waits shown in the engine's display as info lines of the stack (kept in its diagnostics):
        pulumi.dynamic gives a provider no URN of the resource it works on, and the engine shows no
        ephemeral status line without one."""
        return status.reporting(lambda message: _ENGINE.status("", message, ephemeral=False),
                                self.settings().names.retry_window)


_PROCESS = _Process()
_ENGINE = EngineLog(engine_address())


def _short_traceback(method: Callable[..., T]) -> Callable[..., T]:
    """An API error re-raised from the provider method itself: the SDK prints the traceback
    before the message, so keep it three frames long (no client internals, no chained context)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except CopyAIError as exc:
            raise exc.with_traceback(None) from None

    return wrapper


def is_unknown(value: Any) -> bool:
    """True for a value not known yet (during preview)."""
    return isinstance(value, Unknown) or value == UNKNOWN


class CopyAIWebhookProvider(ResourceProvider):
    """Registers, reads and removes one Copy.ai webhook per resource."""

    # Nothing secret is captured in the pickled provider, so it need not be a secret in state.
    serialize_as_secret_always = False

    def configure(self, req: ConfigureRequest) -> None:
        _PROCESS.configure({f"copyai:{k}": req.config.get(f"copyai:{k}") for k in CONFIG_KEYS})
        core.check_credentials(_PROCESS.settings())  # a wrong key or URL fails preview here

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = core.normalize(news)
        failures = [CheckFailure(prop, reason) for prop, reason in core.check(inputs, is_unknown=is_unknown)]
        return CheckResult(inputs, failures)

    @_short_traceback
    def diff(self, id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        core.check_origin(id, olds, _PROCESS.settings())
        replaces = core.replaces(id, olds, core.normalize(news), is_unknown)
        core.diffed(id, replaced=bool(replaces))
        return DiffResult(changes=bool(replaces), replaces=replaces, stables=[], delete_before_replace=None)

    @_short_traceback
    def create(self, props: dict[str, Any]) -> CreateResult:
        lifecycle = _PROCESS.lifecycle()
        with _PROCESS.reporting():
            hook = lifecycle.create(Declared.of(props))
        return CreateResult(hook.id, lifecycle.outputs(hook))

    @_short_traceback
    def read(self, id: str, props: dict[str, Any]) -> ReadResult:
        with _PROCESS.reporting():
            outs = _PROCESS.lifecycle().read(id, props)
        if outs is None:
            return ReadResult(None, {})  # deleted out of band: drop it from the state
        return ReadResult(id, outs)

    @_short_traceback
    def delete(self, id: str, props: dict[str, Any]) -> None:
        with _PROCESS.reporting():
            _PROCESS.lifecycle().delete(id, state=props)
