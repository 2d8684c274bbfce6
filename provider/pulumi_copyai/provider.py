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

from . import core
from .core import OUTPUTS, REPLACE_ON_CHANGE, Declared
from .errors import CopyAIError
from .settings import CONFIG_KEYS, Settings

T = TypeVar("T")

__all__ = ["OUTPUTS", "REPLACE_ON_CHANGE", "CopyAIWebhookProvider", "Settings", "is_unknown"]


class _Process:
    """Per-process provider state: the stack config from `configure`."""

    config: dict[str, Any] | None = None

    def lifecycle(self) -> core.Lifecycle:
        return core.lifecycle_for(Settings.resolve(self.config))


_PROCESS = _Process()


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
        _PROCESS.config = {f"copyai:{k}": req.config.get(f"copyai:{k}") for k in CONFIG_KEYS}

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = core.normalize(news)
        failures = [CheckFailure(prop, reason) for prop, reason in core.check(inputs, is_unknown=is_unknown)]
        return CheckResult(inputs, failures)

    @_short_traceback
    def diff(self, id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        core.check_origin(id, olds, Settings.resolve(_PROCESS.config))
        replaces = core.replaces(id, olds, core.normalize(news), is_unknown)
        core.diffed(id, replaced=bool(replaces))
        return DiffResult(changes=bool(replaces), replaces=replaces, stables=[], delete_before_replace=None)

    @_short_traceback
    def create(self, props: dict[str, Any]) -> CreateResult:
        hook = _PROCESS.lifecycle().create(Declared.of(props))
        return CreateResult(hook.id, _PROCESS.lifecycle().outputs(hook))

    @_short_traceback
    def read(self, id: str, props: dict[str, Any]) -> ReadResult:
        outs = _PROCESS.lifecycle().read(id, props)
        if outs is None:
            return ReadResult(None, {})  # deleted out of band: drop it from the state
        return ReadResult(id, outs)

    @_short_traceback
    def delete(self, id: str, props: dict[str, Any]) -> None:
        _PROCESS.lifecycle().delete(id, state=props)
