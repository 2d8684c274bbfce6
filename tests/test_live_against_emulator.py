"""The opt-in live tests (tests/test_live.py), run against the local emulator and a local receiver,
so they are known to work before anyone points them at Copy.ai: every test passes (none skipped),
and nothing with the live marker is left registered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pulumi_copyai.emulator.testing import Emulator, Receiver

REPO = Path(__file__).resolve().parent.parent
KEY = "live-key-3e9f"
WORKFLOW = "WCFG-7d0a54c1-3f5e-4b8e-9a1d-2c6f0e8b4a11"


def run_live(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, env={**os.environ, **env}, text=True,
                          capture_output=True, check=False, timeout=600)


def test_live_tests_pass_against_the_emulator_and_clean_up() -> None:
    with Emulator(api_key=KEY, run_seconds=0.2) as emu, Receiver() as receiver:
        env = {"COPYAI_LIVE_API_KEY": KEY, "COPYAI_LIVE_BASE_URL": emu.base_url,
               "COPYAI_LIVE_WORKFLOW_ID": WORKFLOW, "COPYAI_LIVE_RECEIVER_URL": receiver.url,
               "COPYAI_LIVE_RUN_TIMEOUT": "30"}
        done = run_live(env, "-m", "pytest", "-m", "live", "tests/test_live.py", "-q", "-p", "no:cacheprovider",
                        "-rs")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "2 passed" in done.stdout and "skipped" not in done.stdout
        assert emu.webhooks() == [], "the finalizer removed every webhook the live tests registered"
        assert any(e["body"].get("type") == "workflowRun.completed" for e in receiver.events)

        # --cleanup removes leftovers with the marker, and only those
        emu.api("POST", "/webhook", json={"url": "https://hooks.example.com/pulumi-copyai-live-dead/x",
                                         "eventType": "workflowRun.failed"})
        keep = emu.api("POST", "/webhook", json={"url": "https://hooks.example.com/team/keep",
                                                "eventType": "workflowRun.failed"}).json()["data"]["id"]
        cleanup = run_live(env, "tests/test_live.py", "--cleanup")
        assert cleanup.returncode == 0, cleanup.stderr
        assert "removed 1 leftover live-test webhook(s)" in cleanup.stdout
        assert [h["id"] for h in emu.webhooks()] == [keep]


def test_live_tests_skip_with_one_line_saying_what_to_set() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYAI_LIVE_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "live", "tests/test_live.py", "-q", "-rs",
                           "-p", "no:cacheprovider"], cwd=REPO, env=env, text=True, capture_output=True,
                          check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "set COPYAI_LIVE_API_KEY" in done.stdout and "2 skipped" in done.stdout


def test_a_bad_key_or_url_names_the_live_settings_and_a_skipped_test_has_no_teardown_error() -> None:
    with Emulator(api_key=KEY) as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COPYAI_LIVE_")}
        for settings, cause in (
            ({"COPYAI_LIVE_API_KEY": "not-the-key", "COPYAI_LIVE_BASE_URL": emu.base_url},
             f"{emu.base_url} rejected the key in COPYAI_LIVE_API_KEY (HTTP 401)"),
            ({"COPYAI_LIVE_API_KEY": KEY, "COPYAI_LIVE_BASE_URL": emu.url},  # without /api
             "COPYAI_LIVE_BASE_URL must be the API's base URL, ending in /api"),
        ):
            done = subprocess.run([sys.executable, "-m", "pytest", "-m", "live", "tests/test_live.py", "-q", "-rs",
                                   "-p", "no:cacheprovider"], cwd=REPO, env={**env, **settings}, text=True,
                                  capture_output=True, check=False, timeout=300)
            out = done.stdout + done.stderr
            assert done.returncode != 0, out
            assert cause in out and "the live tests read COPYAI_LIVE_API_KEY and COPYAI_LIVE_BASE_URL" in out, out
            assert "1 error" in out and "1 skipped" in out, out  # the workflow-run test: skipped, and only that
            assert "teardown" not in out.lower() and "Traceback" not in out, out

            cleanup = run_live(settings, "tests/test_live.py", "--cleanup")
            assert cleanup.returncode != 0 and cause in cleanup.stderr, cleanup.stderr
            assert "Traceback" not in cleanup.stderr
        assert emu.webhooks() == []
