"""The toolchain works: the pinned CLI runs a Python program with a dynamic resource end to end."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from tests.engine import EngineStack

PINNED_CLI = "v3.274.1"


class _NoIOProvider(ResourceProvider):
    def create(self, props: dict) -> CreateResult:  # type: ignore[type-arg]
        return CreateResult(f"thing-{props['value']}", {"value": props["value"]})


class _Thing(Resource):
    value: pulumi.Output[str]

    def __init__(self, name: str, value: str) -> None:
        super().__init__(_NoIOProvider(), name, {"value": value})


def test_pinned_cli_is_first_on_path() -> None:
    out = subprocess.run(["pulumi", "version"], capture_output=True, text=True, check=True).stdout.strip()
    assert out == PINNED_CLI
    assert shutil.which("pulumi-resource-pulumi-python"), "the dynamic provider plugin must sit beside the CLI"


def test_up_preview_destroy_of_a_dynamic_resource(new_stack: Callable[..., EngineStack]) -> None:
    def program() -> None:
        thing = _Thing("thing", "42")
        pulumi.export("thing_id", thing.id)
        pulumi.export("value", thing.value)

    stack = new_stack(program)
    up = stack.up()
    assert up.summary.result == "succeeded"
    assert up.summary.resource_changes == {"create": 2}
    assert up.outputs["thing_id"].value == "thing-42"
    assert up.outputs["value"].value == "42"

    resources = stack.export()["deployment"]["resources"]
    dynamic = [r for r in resources if r["type"] == "pulumi-python:dynamic:Resource"]
    assert [r["id"] for r in dynamic] == ["thing-42"]
    assert dynamic[0]["outputs"]["value"] == "42"

    assert stack.preview(expect_no_changes=True).change_summary == {"same": 2}

    destroy = stack.destroy()
    assert destroy.summary.resource_changes == {"delete": 2}
    assert not stack.export()["deployment"].get("resources")
