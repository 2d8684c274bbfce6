"""The engine floor: a dynamic resource whose create and delete do no I/O (pickled by reference)."""

from __future__ import annotations

import uuid
from typing import Any

from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class NoIOProvider(ResourceProvider):
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(uuid.uuid4().hex, {k: v for k, v in props.items() if k != "__provider"})

    def delete(self, id: str, props: dict[str, Any]) -> None:
        return None


class FloorWebhook(Resource, module="bench", name="FloorWebhook"):
    def __init__(self, name: str, url: str, event_type: str) -> None:
        super().__init__(NoIOProvider(), name, {"url": url, "event_type": event_type})
