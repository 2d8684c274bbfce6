"""`pulumi-resource-copyai`: the plugin executable the engine starts (found on PATH, or installed
with `pulumi plugin install`/`pulumi package add`).

It serves `CopyAIProvider` with the Python SDK's gRPC servicer, changed in two respects: an API error
reaches the user as its message alone, without the Python traceback the SDK appends (a traceback
is kept for anything else, which would be a bug of ours); and DiffConfig answers the engine with the
right DiffChanges value (see `_Servicer.DiffConfig`), so a provider config change applies at once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import DiffRequest, DiffResponse, PropertyDiffKind
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from .. import __version__
from ..errors import CopyAIError, causes
from .provider import CopyAIProvider


def _api_error(exc: BaseException) -> CopyAIError | None:
    """The CopyAIError behind `exc` (the SDK re-raises it wrapped, with a traceback in the text)."""
    return next((cause for cause in causes(exc) if isinstance(cause, CopyAIError)), None)


def _clean(call: Callable[..., Awaitable[Any]]) -> Any:
    async def method(self: Any, request: Any, context: Any) -> Any:
        try:
            return await call(self, request, context)
        except Exception as exc:
            error = _api_error(exc)
            if error is None:
                raise
            await context.abort(grpc.StatusCode.UNKNOWN, str(error))

    return method


_KINDS = {
    PropertyDiffKind.ADD: provider_pb2.PropertyDiff.ADD,
    PropertyDiffKind.ADD_REPLACE: provider_pb2.PropertyDiff.ADD_REPLACE,
    PropertyDiffKind.DELETE: provider_pb2.PropertyDiff.DELETE,
    PropertyDiffKind.DELETE_REPLACE: provider_pb2.PropertyDiff.DELETE_REPLACE,
    PropertyDiffKind.UPDATE: provider_pb2.PropertyDiff.UPDATE,
    PropertyDiffKind.UPDATE_REPLACE: provider_pb2.PropertyDiff.UPDATE_REPLACE,
}


def diff_changes(changes: bool | None) -> provider_pb2.DiffResponse.DiffChanges.ValueType:
    """The proto's DiffChanges for a DiffResponse's `changes`: None is DIFF_UNKNOWN (the engine then
    compares old outputs and new inputs itself), True DIFF_SOME, False DIFF_NONE."""
    if changes is None:
        return provider_pb2.DiffResponse.DIFF_UNKNOWN
    return provider_pb2.DiffResponse.DIFF_SOME if changes else provider_pb2.DiffResponse.DIFF_NONE


def diff_response(resp: DiffResponse) -> provider_pb2.DiffResponse:
    """A provider's DiffResponse as the engine's proto DiffResponse."""
    return provider_pb2.DiffResponse(
        replaces=resp.replaces,
        stables=resp.stables,
        deleteBeforeReplace=resp.delete_before_replace,
        changes=diff_changes(resp.changes),
        diffs=resp.diffs,
        detailedDiff={k: provider_pb2.PropertyDiff(kind=_KINDS[v.kind], inputDiff=v.input_diff)
                      for k, v in (resp.detailed_diff or {}).items()},
        hasDetailedDiff=True,
    )


class _Servicer(ProviderServicer):
    Create = _clean(ProviderServicer.Create)
    Read = _clean(ProviderServicer.Read)
    Update = _clean(ProviderServicer.Update)
    Diff = _clean(ProviderServicer.Diff)
    Delete = _clean(ProviderServicer.Delete)
    Configure = _clean(ProviderServicer.Configure)
    Construct = _clean(ProviderServicer.Construct)

    @_clean
    async def DiffConfig(self, request: Any, context: Any) -> Any:
        # pulumi 3.272's ProviderServicer.DiffConfig (pulumi/provider/experimental/server.py) passes the
        # provider's `changes` (a bool) straight into the proto enum DiffResponse.DiffChanges, where
        # True == 1 == DIFF_NONE (and False == 0 == DIFF_UNKNOWN). Told "no changes", the engine keeps
        # the provider (a same step) and configures it with its OLD inputs: a new copyai:apiKey, baseUrl
        # or timeout applied one `up` late. (It also reads PropertyDiff.inputDiff, which is input_diff.)
        # So DiffConfig is answered here as the SDK's Diff answers: DIFF_SOME or DIFF_NONE. The engine
        # then updates the provider (configures it with the new inputs) and replaces nothing, as long
        # as the provider names no replaces: diff_config never does.
        resp = await self._provider.diff_config(DiffRequest(
            request.urn,
            request.id,
            PropertyValue.unmarshal_map(request.olds),
            PropertyValue.unmarshal_map(request.news),
            list(request.ignoreChanges),
        ))
        return diff_response(resp)


async def _serve(engine_address: str) -> None:
    server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
    servicer = _Servicer(sys.argv[1:], __version__, CopyAIProvider(), engine_address=engine_address)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port(address="127.0.0.1:0")
    await server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    await server.wait_for_termination()


def main() -> None:
    """Entry point of `pulumi-resource-copyai <engine address>` (flags the engine passes are ignored)."""
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    if not args:
        sys.exit("pulumi-resource-copyai is a Pulumi provider plugin: the Pulumi engine starts it "
                 "(e.g. during `pulumi up` of a program using copyai:index:Webhook)")
    try:
        asyncio.run(_serve(args[0]))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
