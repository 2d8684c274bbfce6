"""Shared fixtures: a running emulator and engine stacks on a temp file backend."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.engine import EngineStack

API_KEY = "test-key-0f9e8d7c"


@pytest.fixture(scope="session", autouse=True)
def _toolchain() -> None:
    if shutil.which("pulumi") is None:
        pytest.exit("the pinned Pulumi CLI is not on PATH: run the tests with `make test`", returncode=2)
    for var in ("COPYAI_API_KEY", "COPYAI_BASE_URL", "COPYAI_TIMEOUT_SECONDS"):
        os.environ.pop(var, None)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    """The module's emulator, emptied and with no faults, for one test."""
    emulator.reset()
    return emulator


@pytest.fixture
def new_stack(tmp_path: Path) -> Callable[..., EngineStack]:
    stacks: list[EngineStack] = []

    def make(program: Callable[[], None], env: dict[str, str] | None = None, name: str = "test") -> EngineStack:
        work = tmp_path / f"project-{len(stacks)}"
        work.mkdir()
        stack = EngineStack(work, program, env=env, stack=name)
        stacks.append(stack)
        return stack

    return make
