"""The README's newcomer path: following it with a real API key never leaves the key readable from a
file under version control."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import REPO, Project, cli_env

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

KEY = "newcomer-key-1a2b"


@pytest.fixture
def example(tmp_path: Path) -> Iterator[tuple[Project, Emulator]]:
    """The repository's example stack (Pulumi.yaml + __main__.py) in a temp dir, on a file backend."""
    with Emulator(api_key=KEY) as emu:
        (tmp_path / "state").mkdir()
        project = Project(tmp_path, "example", cli_env(f"file://{tmp_path / 'state'}", emu, tmp_path))
        shutil.copy(REPO / "__main__.py", project.dir / "__main__.py")
        settings = (REPO / "Pulumi.yaml").read_text()  # its virtualenv, .venv, is the repository's
        (project.dir / "Pulumi.yaml").write_text(settings.replace("virtualenv: .venv", f"virtualenv: {REPO / '.venv'}"))
        yield project, emu


def test_no_stack_config_file_is_under_version_control() -> None:
    tracked = subprocess.run(["git", "ls-files", "Pulumi.*.yaml"], cwd=REPO, text=True, capture_output=True,
                             check=True).stdout.split()
    assert tracked == []
    ignored = subprocess.run(["git", "check-ignore", "Pulumi.dev.yaml", "Pulumi.prod.yaml"], cwd=REPO, text=True,
                             capture_output=True, check=False).stdout.split()
    assert ignored == ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]


def test_a_key_under_the_demo_passphrase_is_refused(example: tuple[Project, Emulator]) -> None:
    project, emu = example
    project.env["PULUMI_CONFIG_PASSPHRASE"] = ""  # scripts/env.sh's demo default
    project.env.pop("COPYAI_API_KEY")
    project.run("stack", "init", "dev")
    project.run("config", "set", "--secret", "copyai:apiKey", KEY, "--stack", "dev")
    preview = project.run("preview", "--stack", "dev", check=False)
    out = preview.stdout + preview.stderr
    assert preview.returncode != 0
    assert "copyai:apiKey is set in stack 'dev', whose secrets use an empty passphrase" in out
    assert "pulumi config rm copyai:apiKey" in out and KEY not in out
    assert emu.requests() == []

    # the key of an emulator on this machine is fine so (the demo stack `dev` of `make` keeps it so)
    project.run("config", "set", "copyai:baseUrl", emu.base_url, "--stack", "dev")
    project.run("preview", "--stack", "dev")


def test_a_key_under_a_passphrase_of_your_own_works(example: tuple[Project, Emulator]) -> None:
    project, emu = example
    project.env["PULUMI_CONFIG_PASSPHRASE"] = "my own passphrase"
    project.env.pop("COPYAI_API_KEY")
    project.run("stack", "init", "prod")
    project.run("config", "set", "--secret", "copyai:apiKey", KEY, "--stack", "prod")
    assert KEY not in (project.dir / "Pulumi.prod.yaml").read_text()
    up = project.run("up", "--yes", "--skip-preview", "--stack", "prod")
    assert "created" in up.stdout and len(emu.webhooks()) == 5
    project.run("destroy", "--yes", "--skip-preview", "--stack", "prod")
    assert emu.webhooks() == []


def test_an_extra_webhook_with_event_type_names_the_field_and_the_fix(example: tuple[Project, Emulator]) -> None:
    project, emu = example
    project.run("stack", "init", "dev")
    for field, value in (("name", "audit"), ("url", "https://audit.example.com/copyai"),
                         ("event_type", "workflowRun.completed")):
        project.run("config", "set", "--path", f"extraWebhooks[0].{field}", value, "--stack", "dev")
    preview = project.run("preview", "--stack", "dev", check=False)
    out = preview.stdout + preview.stderr
    assert preview.returncode != 0
    assert ("copyai-webhooks:extraWebhooks[0] has the field 'event_type', which is not one of name, url, eventType, "
            "workflowId: did you mean 'eventType'?") in out, out
    assert ("pulumi config rm --path 'extraWebhooks[0].event_type' && "
            "pulumi config set --path 'extraWebhooks[0].eventType' workflowRun.completed") in out, out
    assert "KeyError" not in out and "Traceback" not in out
    assert emu.webhooks() == []

    project.run("config", "rm", "--path", "extraWebhooks[0].event_type", "--stack", "dev")
    missing = project.run("preview", "--stack", "dev", check=False)
    assert "copyai-webhooks:extraWebhooks[0] has no 'eventType': pulumi config set --path " \
           "'extraWebhooks[0].eventType' <value>" in missing.stdout + missing.stderr
