"""The `copyai` provider plugin: a thin adapter from Pulumi's provider protocol to `core`.

Serves `copyai:index:Webhook` (a custom resource) and `copyai:index:WorkflowWebhooks` (a component),
with property names in camelCase as the schema spells them. Calls to the API run on a thread pool
sized above the engine's parallelism, so creates, reads and deletes go out as fast as the engine asks.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, TypeVar

from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    ConstructRequest,
    ConstructResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    GetSchemaRequest,
    GetSchemaResponse,
    InvokeRequest,
    InvokeResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)
from pulumi.runtime.rpc import UNKNOWN

from .. import core, status
from ..engine_log import EngineLog
from ..errors import CopyAIError
from ..settings import CONFIG_KEYS, Settings

T = TypeVar("T")

WEBHOOK = "copyai:index:Webhook"
WORKFLOW_WEBHOOKS = "copyai:index:WorkflowWebhooks"
GET_WEBHOOK = "copyai:index:getWebhook"
GET_WEBHOOKS = "copyai:index:getWebhooks"
#: The core's property names and the schema's.
NAMES: dict[str, str] = {"url": "url", "event_type": "eventType", "workflow_id": "workflowId"}
#: The state's names: the inputs, and where the webhook was registered (pulumi_copyai.origin).
STATE_NAMES: dict[str, str] = {**NAMES, "api_base_url": "apiBaseUrl", "api_key_fingerprint": "apiKeyFingerprint"}
#: Calls served at once; above the engine's --parallel (4 x cores by default, 32 on an 8-core laptop).
MAX_CONCURRENT_CALLS = 64


def schema_text() -> str:
    return resources.files("pulumi_copyai.plugin").joinpath("schema.json").read_text()


def _unknown(value: Any) -> bool:
    """True for a value not known yet (during preview)."""
    return isinstance(value, Computed)


def _plain(props: Mapping[str, PropertyValue], names: Mapping[str, str] = NAMES) -> dict[str, Any]:
    """Schema-named PropertyValues to core-named plain values (an unknown stays a Computed)."""
    out: dict[str, Any] = {}
    for key, name in names.items():
        if name in props:
            out[key] = props[name].value
    return out


def on_the_wire(props: Mapping[str, PropertyValue]) -> dict[str, PropertyValue]:
    """Properties ready to send: an unknown travels as the engine's unknown sentinel (the SDK's
    PropertyValue cannot marshal Computed)."""
    return {k: (v.with_value(UNKNOWN) if isinstance(v.value, Computed) else v) for k, v in props.items()}


def _secret(props: Mapping[str, PropertyValue], name: str) -> bool:
    value = props.get(name)
    return bool(value is not None and value.is_secret)


def _properties(outs: Mapping[str, Any], secret_url: bool) -> dict[str, PropertyValue]:
    """Core-named outputs to schema-named PropertyValues; an absent workflow is left out."""
    props = {STATE_NAMES[k]: PropertyValue(v) for k, v in outs.items() if v is not None}
    if secret_url and "url" in props:
        props["url"] = props["url"].with_secret(True)
    return props


class CopyAIProvider(Provider):
    """One instance per provider configuration (the engine starts a plugin process per provider)."""

    def __init__(self, engine_address: str | None = None) -> None:
        self.settings = Settings.resolve({})
        self._engine = EngineLog(engine_address)
        self._provider_name: str | None = None  # "" for a default provider, else an explicit one's name
        self._pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_CALLS, thread_name_prefix="copyai")
        self._cold = True  # the HTTP client not built yet: building it imports requests, off the loop
        self._pool.submit(importlib.import_module, "pulumi_copyai.client")  # warm up while the engine starts

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def _run_for(self, urn: str, timeout: float | None, operation: str, fn: Callable[[], T]) -> T:
        """`fn` on the pool, its waits shown on the resource's row of the engine's display."""
        window = f"the resource's customTimeouts ({operation})" if timeout else self.settings.names.retry_window

        def run() -> T:
            with status.reporting(lambda message: self._engine.status(urn, message), window):
                return fn()

        return await self._run(run)

    def _lifecycle(self) -> core.Lifecycle:
        return core.lifecycle_for(self.settings)

    def _deadline(self, timeout: float | None) -> float:
        """A resource's customTimeouts (create, delete) when set, else the configured retry window."""
        return time.monotonic() + (timeout if timeout else self.settings.retry_window)

    # -- provider configuration ---------------------------------------------------------------
    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        return GetSchemaResponse(schema=schema_text())

    async def check_config(self, request: CheckRequest) -> CheckResponse:
        name = request.urn.rsplit("::", 1)[-1]
        self._provider_name = "" if name.startswith("default") else name
        failures = []
        try:
            Settings.resolve(self._config_of(request.new_inputs, {}), {})
        except CopyAIError as exc:
            key = next((k for k in CONFIG_KEYS if f"copyai:{k}" in exc.message), "baseUrl")
            failures.append(CheckFailure(key, exc.message))
        return CheckResponse(inputs=request.new_inputs, failures=failures)

    async def diff_config(self, request: DiffRequest) -> DiffResponse:
        # A changed key, URL or timeout changes how the provider talks to the API, not the webhooks:
        # never replace the webhooks for it.
        # The engine updates the provider (configures it with the new inputs) on DIFF_SOME: see server.py.
        changed = [k for k in CONFIG_KEYS
                   if request.old_state.get(k) != request.new_inputs.get(k) and k not in request.ignore_changes]
        return DiffResponse(changes=bool(changed), diffs=changed, replaces=[],
                            detailed_diff={k: PropertyDiff(PropertyDiffKind.UPDATE, True) for k in changed})

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        self.settings = Settings.resolve(self._config_of(request.args, request.variables), provider=self._provider_name)
        settings = self.settings
        await self._run(lambda: core.check_credentials(settings))  # a wrong key or URL fails preview here
        return ConfigureResponse(accept_secrets=True, supports_preview=True, accept_outputs=False,
                                 accept_resources=False)

    @staticmethod
    def _config_of(args: Mapping[str, PropertyValue], variables: Mapping[str, str]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for key in CONFIG_KEYS:
            value = args.get(key)
            if value is not None and value.value is not None and not isinstance(value.value, Computed):
                config[key] = value.value
            elif variables.get(f"copyai:config:{key}") or variables.get(f"copyai:{key}"):
                config[key] = variables.get(f"copyai:config:{key}") or variables.get(f"copyai:{key}")
        return config

    # -- copyai:index:Webhook -------------------------------------------------------------------
    async def check(self, request: CheckRequest) -> CheckResponse:
        if request.type != WEBHOOK:
            return CheckResponse(inputs=request.new_inputs)
        inputs = dict(request.new_inputs)
        workflow = inputs.get("workflowId")
        if workflow is not None and workflow.value in ("", None):
            del inputs["workflowId"]  # "" means every workflow, as no workflow does
        failures = [CheckFailure(prop, reason)
                    for prop, reason in core.check(_plain(inputs), NAMES, is_unknown=_unknown)]
        return CheckResponse(inputs=inputs, failures=failures)

    async def diff(self, request: DiffRequest) -> DiffResponse:
        core.check_origin(request.resource_id, _plain(request.old_state, STATE_NAMES), self.settings)
        olds = core.normalize(_plain(request.old_state))
        changed = core.replaces(request.resource_id, olds, core.normalize(_plain(request.new_inputs)), _unknown)
        changed = [NAMES[k] for k in changed if k in NAMES and NAMES[k] not in request.ignore_changes]
        core.diffed(request.resource_id, replaced=bool(changed))
        return DiffResponse(
            changes=bool(changed), replaces=changed, diffs=changed,
            detailed_diff={k: PropertyDiff(PropertyDiffKind.UPDATE_REPLACE, True) for k in changed},
        )

    async def create(self, request: CreateRequest) -> CreateResponse:
        secret_url = _secret(request.properties, "url")
        if request.preview:  # nothing is registered in a preview
            return CreateResponse(resource_id="", properties=on_the_wire(request.properties))
        declared = core.Declared.of(_plain(request.properties))
        deadline = self._deadline(request.timeout)
        hook = await self._run_for(request.urn, request.timeout, "create",
                                   lambda: self._lifecycle().create(declared, deadline, urn=request.urn))
        outs = self._lifecycle().outputs(hook)
        return CreateResponse(resource_id=hook.id, properties=_properties(outs, secret_url))

    async def read(self, request: ReadRequest) -> ReadResponse:
        state = _plain(request.properties, STATE_NAMES)
        secret_url = _secret(request.properties, "url") or _secret(request.inputs, "url")
        deadline = self._deadline(None)
        lifecycle = await self._run(self._lifecycle) if self._cold else self._lifecycle()
        self._cold = False
        outs = lifecycle.read_cached(request.resource_id, state)  # most reads of a refresh: no thread hop
        if outs is None:
            outs = await self._run_for(request.urn, None, "read",
                                       lambda: lifecycle.read(request.resource_id, state, deadline))
        if outs is None:  # deleted outside Pulumi: the engine drops it from the state
            return ReadResponse(resource_id=None, properties={}, inputs={})
        if not request.properties:  # `pulumi import` or the `import` option: the resource takes this webhook
            core.imported(request.resource_id)
        properties = _properties(outs, secret_url)
        # `pulumi import`: the inputs as found (the declared ones, not where it was registered)
        declared = {k: v for k, v in properties.items() if k in NAMES.values()}
        inputs = dict(request.inputs) if request.inputs else declared
        return ReadResponse(resource_id=request.resource_id, properties=properties, inputs=inputs)

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        raise CopyAIError("update webhook", "Copy.ai has no update API: every change replaces the webhook")

    async def delete(self, request: DeleteRequest) -> None:
        deadline = self._deadline(request.timeout)
        state = _plain(request.properties, STATE_NAMES)
        await self._run_for(request.urn, request.timeout, "delete",
                            lambda: self._lifecycle().delete(request.resource_id, deadline, state))

    # -- functions: copyai:index:getWebhook, copyai:index:getWebhooks ---------------------------
    async def invoke(self, request: InvokeRequest) -> InvokeResponse:
        from .. import lookup

        def arg(name: str) -> str | None:
            value = request.args.get(name)
            return value.value if value is not None and isinstance(value.value, str) and value.value else None

        deadline = self._deadline(None)
        lifecycle = await self._run(self._lifecycle)
        if request.tok == GET_WEBHOOK:
            webhook_id = arg("id")
            if webhook_id is None:
                return InvokeResponse(failures=[CheckFailure("id", "getWebhook needs the webhook's id")])
            hook = await self._run_for("", None, "read", lambda: lookup.get_webhook(lifecycle, webhook_id, deadline))
            return InvokeResponse(return_value=_found(hook))
        if request.tok == GET_WEBHOOKS:
            where = lookup.Filter(arg("eventType"), arg("workflowId"), arg("urlPrefix"))
            hooks = await self._run_for("", None, "read", lambda: lookup.get_webhooks(lifecycle, where, deadline))
            return InvokeResponse(return_value={
                "webhooks": PropertyValue([PropertyValue(_found(h)) for h in hooks]),
                "ids": PropertyValue([PropertyValue(h.id) for h in hooks]),
            })
        raise CopyAIError("invoke", f"unknown function {request.tok}; this provider serves {GET_WEBHOOK} and "
                          f"{GET_WEBHOOKS}")

    # -- copyai:index:WorkflowWebhooks ----------------------------------------------------------
    async def construct(self, request: ConstructRequest) -> ConstructResponse:
        from .component import construct_workflow_webhooks

        if request.resource_type != WORKFLOW_WEBHOOKS:
            raise CopyAIError("construct", f"unknown component type {request.resource_type}; "
                              f"this provider constructs {WORKFLOW_WEBHOOKS}")
        return await construct_workflow_webhooks(request)


def _found(hook: Any) -> dict[str, PropertyValue]:
    """A webhook as a function returns it; a url that may hold a credential is a secret."""
    from ..lookup import might_hold_token

    props = {"id": PropertyValue(hook.id), "url": PropertyValue(hook.url).with_secret(might_hold_token(hook.url)),
             "eventType": PropertyValue(hook.event_type)}
    if hook.workflow_id:
        props["workflowId"] = PropertyValue(hook.workflow_id)
    return props


def schema() -> dict[str, Any]:
    """The package schema as a dict."""
    return dict(json.loads(schema_text()))
