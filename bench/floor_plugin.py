"""The YAML floor: the `copyai` plugin with every API call taken out.

Installed by the bench as `pulumi-resource-copyai` on one project's PATH (see projects.py), it serves
the same schema, the same checks and diffs, through the same SDK gRPC server as the real plugin, but
`create` makes up an id, `read` returns the state as it is and `delete` does nothing. The YAML
program, the engine, the YAML language host and the plugin process cost the same as the real plugin's:
the difference between the two is what the API calls cost.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import grpc.aio
from pulumi.provider.experimental.provider import (
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    ReadRequest,
    ReadResponse,
)
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

from pulumi_copyai import __version__
from pulumi_copyai.plugin.provider import CopyAIProvider, on_the_wire


class NoIOProvider(CopyAIProvider):
    async def create(self, request: CreateRequest) -> CreateResponse:
        resource_id = "" if request.preview else f"PKGW-{uuid.uuid4().hex[:16]}"
        return CreateResponse(resource_id=resource_id, properties=on_the_wire(request.properties))

    async def read(self, request: ReadRequest) -> ReadResponse:
        return ReadResponse(resource_id=request.resource_id, properties=dict(request.properties),
                            inputs=dict(request.inputs))

    async def delete(self, request: DeleteRequest) -> None:
        return None


async def _serve(engine_address: str) -> None:
    server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
    servicer = ProviderServicer(sys.argv[1:], __version__, NoIOProvider(), engine_address=engine_address)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port(address="127.0.0.1:0")
    await server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    await server.wait_for_termination()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    asyncio.run(_serve(args[0]))
