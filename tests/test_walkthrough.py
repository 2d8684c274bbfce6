"""The README's real-key walkthroughs (Configuration, With a real key), run as written on a fresh clone.

Each block marked `<!-- walkthrough: ... -->` in README.md runs in bash, line by line as a user types it, in a
terminal (a pty, so the pulumi CLI asks before `make up` changes anything, and this test answers yes) in a fresh
copy of the working tree (what `git clone` of it would give, uncommitted edits included). A second emulator
stands in for Copy.ai: only its base URL replaces https://api.copy.ai/api, its key `<your key>`, and a passphrase
`<a passphrase of yours>`. Then the webhooks must be at that emulator, the local emulator never started, and
`make destroy` without a terminal and without YES=1 must delete nothing.

The clone reuses this checkout's .venv (linked: its bootstrap stamps match, so the block's `make bootstrap` only
links the cached toolchain, as on a machine that has run it before); COPYAI_WALKTHROUGH_BOOTSTRAP=fresh gives
the clone a bootstrap of its own (a copy of the cached virtualenv template, seconds).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

from pulumi_copyai.emulator.testing import Emulator

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

REPO = Path(__file__).resolve().parent.parent
KEY = "walkthrough-copyai-key-5c1d"
PASSPHRASE = "walkthrough-passphrase-9e2b"
REAL_API = "https://api.copy.ai/api"
MARKED = re.compile(r"<!-- walkthrough: (?P<name>[^>]+?) -->\n```sh\n(?P<code>.*?)```", re.S)


def walkthroughs() -> dict[str, str]:
    return {m["name"]: m["code"] for m in MARKED.finditer((REPO / "README.md").read_text())}


def fresh_clone(dest: Path) -> Path:
    """The working tree's files as a clone has them: tracked and new ones, nothing ignored (.venv, .pulumi-bin,
    .pulumi-state, .state, Pulumi.*.yaml)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = REPO / name
        if src.is_file() or src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name, follow_symlinks=False)
    if os.environ.get("COPYAI_WALKTHROUGH_BOOTSTRAP") != "fresh":
        (dest / ".venv").symlink_to(REPO / ".venv")
    return dest


def user_env(home: Path) -> dict[str, str]:
    """A user's shell: no pulumi on PATH, no project settings (.venv and the toolchain come from the block)."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("COPYAI_", "PULUMI_", "PIP_", "PYTEST_")) and k not in (
                "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV", "CI", "YES")}
    path = [p for p in keep.get("PATH", "").split(os.pathsep)  # no Pulumi CLI, no virtualenv
            if p and not (Path(p) / "pulumi").exists() and not (Path(p) / "activate").exists()]
    return {**keep, "PATH": os.pathsep.join(path or ["/usr/local/bin", "/usr/bin", "/bin"]),
            "PULUMI_HOME": str(home / ".pulumi"), "TERM": "xterm"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_in_terminal(script: Path, cwd: Path, env: dict[str, str]) -> tuple[int, str, int]:
    """bash runs `script` in a pty; every pulumi prompt is answered yes. (exit status, output, prompts answered)"""
    child = pexpect.spawn("bash", ["--noprofile", "--norc", str(script)], cwd=str(cwd), env=env,
                          encoding="utf-8", codec_errors="replace", dimensions=(60, 220), timeout=600)
    output: list[str] = []
    answered, asking = 0, False
    while True:  # the prompt is drawn again on every key; it is answered once, until the operation starts
        seen = child.expect([r"Do you want to perform this \w+\?", r"(Updating|Destroying|Refreshing) \(", pexpect.EOF])
        output.append(str(child.before or "") + (child.after if isinstance(child.after, str) else ""))
        if seen == 2:
            break
        if seen == 1:
            asking = False
        elif not asking:
            time.sleep(0.3)  # the prompt draws its choices after the question
            child.send("yes")
            time.sleep(0.3)
            child.send("\r")
            answered, asking = answered + 1, True
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1), "".join(output), answered


def test_the_readme_marks_both_walkthroughs_and_they_start_from_a_fresh_clone() -> None:
    blocks = walkthroughs()
    assert set(blocks) == {"key in the environment", "key in the stack config"}
    for code in blocks.values():
        lines = [line.split("#", 1)[0].strip() for line in code.splitlines()]
        assert lines[0] == "make bootstrap", "bootstrap first: scripts/env.sh puts what it installs on PATH"
        first_pulumi = next(i for i, line in enumerate(lines) if line.startswith("pulumi"))
        assert lines.index("source scripts/env.sh") < first_pulumi
        stack = re.search(r"^pulumi stack init (\S+)", code, re.M)
        assert stack is not None and stack[1] != "dev", "a stack of its own, never the demo stack"
        assert f"pulumi config set copyai:baseUrl {REAL_API}" in code, "the stack's API is in its own config"
        assert f"PULUMI_STACK={stack[1]} make up" in code
    assert len({re.search(r"stack init (\S+)", c)[1] for c in blocks.values()}) == 2  # type: ignore[index]


@pytest.mark.parametrize("name", ["key in the environment", "key in the stack config"])
def test_the_walkthrough_runs_as_written_on_a_fresh_clone(name: str, tmp_path: Path) -> None:
    code = walkthroughs()[name]
    stack = re.search(r"^pulumi stack init (\S+)", code, re.M)[1]  # type: ignore[index]
    clone = fresh_clone(tmp_path / "pulumi-copyai")
    env = user_env(tmp_path)
    with Emulator(api_key=KEY) as copyai:
        if copyai.port == 8787:  # the local emulator's default port: keep `make` from taking it for that one
            env["COPYAI_EMULATOR_PORT"] = str(free_port())
        script = (code.replace(REAL_API, copyai.base_url).replace("<your key>", KEY)
                  .replace("<a passphrase of yours>", PASSPHRASE))
        assert not re.search(r"<[a-z ]+>", script), "every placeholder is filled in"
        (tmp_path / "walkthrough.sh").write_text("set -e\n" + script)

        started = time.monotonic()
        status, output, answered = run_in_terminal(tmp_path / "walkthrough.sh", clone, env)
        took = time.monotonic() - started
        assert status == 0, output
        assert answered == 1, output  # `make up` asked once, and only then registered
        assert f"Stack '{stack}': the Copy.ai API at {copyai.base_url}" in output
        hooks = copyai.webhooks()
        assert len(hooks) == 5 and all(h["url"].startswith("https://hooks.example.com/copyai/") for h in hooks)
        assert not list((clone / ".state").glob("*.pid")), "the local emulator was not started"
        config = (clone / f"Pulumi.{stack}.yaml").read_text()
        assert f"copyai:baseUrl: {copyai.base_url}" in config and KEY not in config
        print(f"{name}: the walkthrough took {took:.1f} s")

        # Later, from a script (no terminal) and without YES=1: only the preview, nothing deleted.
        later = {**env, "PULUMI_STACK": stack}
        later.update({"COPYAI_API_KEY": KEY} if "export COPYAI_API_KEY" in code else
                     {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})
        destroy = subprocess.run(["make", "destroy"], cwd=clone, env=later, stdin=subprocess.DEVNULL, text=True,
                                 capture_output=True, timeout=300, check=False)
        assert destroy.returncode != 0, destroy.stdout + destroy.stderr
        assert (f"Nothing was changed: the above is only the preview of `make destroy` on stack '{stack}'"
                in destroy.stderr)
        assert f"YES=1 PULUMI_STACK={stack} make destroy" in destroy.stderr
        assert re.search(r"- 7 to delete", destroy.stdout), destroy.stdout
        assert {h["id"] for h in copyai.webhooks()} == {h["id"] for h in hooks}

        destroy = subprocess.run(["make", "destroy"], cwd=clone, env={**later, "YES": "1"}, stdin=subprocess.DEVNULL,
                                 text=True, capture_output=True, timeout=300, check=False)
        assert destroy.returncode == 0, destroy.stdout + destroy.stderr
        assert copyai.webhooks() == []
