"""Shared fixtures: a running emulator and engine stacks (project directories with a temp file backend)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.engine import EngineStack

API_KEY = "test-key-0f9e8d7c"


REPO = Path(__file__).resolve().parent.parent

# Started from a background shell (no job control), this process ignores SIGINT, and so would every
# `pulumi` it runs and their plugins; the engine stops a language host with SIGINT and kills it only
# 5 s later. A handler of our own is reset to the default in children, so they stop at once.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _toolchain() -> None:
    if shutil.which("pulumi") is None:
        pytest.exit("the pinned Pulumi CLI is not on PATH: run the tests with `make test`", returncode=2)
    if Path(sys.prefix).resolve() == (REPO / ".venv").resolve():
        sys.path.insert(0, str(REPO / "scripts"))
        from package_hash import package_hash

        if not (REPO / ".venv" / f".package-{package_hash()}").exists():
            pytest.exit("the package installed in .venv is older than provider/: run `make bootstrap` "
                        "(`make test` does it first)", returncode=2)
    for var in ("COPYAI_API_KEY", "COPYAI_BASE_URL", "COPYAI_TIMEOUT_SECONDS", "COPYAI_RETRY_WINDOW_SECONDS"):
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
    """`new_stack(program=None, spec=None, env=None, name="test")`: a new project directory under tmp_path
    (Pulumi.yaml, __main__.py = `program` or the spec.json-driven WEBHOOKS_MAIN) and a stack in it."""
    stacks: list[EngineStack] = []

    def make(program: str | None = None, spec: Any = None, env: dict[str, str] | None = None,
             name: str = "test") -> EngineStack:
        stack = EngineStack(tmp_path / f"project-{len(stacks)}", program, spec=spec, env=env, stack=name)
        stacks.append(stack)
        return stack

    return make
