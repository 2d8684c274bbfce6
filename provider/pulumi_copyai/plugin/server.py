"""`pulumi-resource-copyai`: the plugin executable the engine starts (found on PATH, or installed
with `pulumi plugin install`/`pulumi package add`).

It serves `CopyAIProvider` with the Python SDK's gRPC servicer, changed in one respect: an API error
reaches the user as its message alone, without the Python traceback the SDK appends (a traceback
is kept for anything else, which would be a bug of ours).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

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


class _Servicer(ProviderServicer):
    Create = _clean(ProviderServicer.Create)
    Read = _clean(ProviderServicer.Read)
    Update = _clean(ProviderServicer.Update)
    Delete = _clean(ProviderServicer.Delete)
    Configure = _clean(ProviderServicer.Configure)
    Construct = _clean(ProviderServicer.Construct)


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
