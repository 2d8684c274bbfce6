"""The emulator's dashboard in a real browser: headless Debian Chromium driven by Playwright (tests/browser.py).

What a person testing a receiver does: look at the webhooks, start a run from the form, watch its deliveries
arrive without reloading, open a payload, arm and disarm a fault, switch a quirk; and no key or token on
the page at any point.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from pulumi_copyai.emulator.testing import Emulator, Receiver
from tests.browser import chromium
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s3cr3t-t0ken-in-the-query"
WORKFLOW = "WCFG-dashboard"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def register(emu: Emulator, url: str, event_type: str, workflow_id: str | None = None) -> str:
    body = {"url": url, "eventType": event_type, **({"workflowId": workflow_id} if workflow_id else {})}
    answer = emu.api("POST", "/webhook", json=body)
    answer.raise_for_status()
    return str(answer.json()["data"]["id"])


def open_dashboard(browser: Browser, emu: Emulator) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(emu.url + "/")
    expect(page.locator("#live-status")).to_contain_text("live")  # the script is connected to the stream
    page.errors = errors  # type: ignore[attr-defined]
    return page


def no_secret(page: Page) -> None:
    html = page.content()
    assert API_KEY not in html and TOKEN not in html


def test_a_run_started_from_the_form_shows_its_deliveries_live(browser: Browser) -> None:
    with Receiver() as receiver, Emulator(api_key=API_KEY, run_seconds=3.0) as emu:
        failed_hook = register(emu, f"{receiver.url}/failed?token={TOKEN}", "workflowRun.failed", WORKFLOW)
        started_hook = register(emu, f"{receiver.url}/started", "workflowRun.started")
        page = open_dashboard(browser, emu)

        hook_row = page.locator(f'tr[data-webhook="{failed_hook}"]')
        expect(hook_row).to_contain_text(f"{receiver.url}/failed?token=***")
        expect(hook_row).to_contain_text(WORKFLOW)
        expect(page.locator(f'tr[data-webhook="{started_hook}"]')).to_contain_text("every workflow")
        no_secret(page)

        page.fill("#workflow", WORKFLOW)
        page.check('input[name="outcome"][value="failed"]')
        page.click("text=Start run")
        expect(page.locator(".notice")).to_contain_text("Started workflow run WRUN-")
        expect(page.locator("#live-status")).to_contain_text("live")
        page.evaluate("window.sameDocument = true")  # gone if anything reloads the page from here on
        failed_rows = page.locator('tr[data-delivery]:has-text("workflowRun.failed")')
        assert failed_rows.count() == 0  # the run takes 3 s: its end is yet to come

        expect(failed_rows).to_have_count(1, timeout=20_000)
        assert page.evaluate("window.sameDocument") is True
        row = failed_rows.first
        expect(row).to_contain_text("HTTP 200")
        expect(row).to_contain_text(f"{receiver.url}/failed?token=***")
        failed_event = next(e["body"] for e in receiver.wait_for(2) if e["path"] == "/failed")
        run_id = failed_event["workflowRunId"]
        expect(page.locator(f'tr[data-run="{run_id}"]')).to_contain_text("FAILED")
        expect(page.locator('tr[data-delivery]:has-text("workflowRun.started")')).to_have_count(1)

        row.locator("summary").click()
        payload = row.locator("pre")
        expect(payload).to_be_visible()
        expect(payload).to_contain_text('"type": "workflowRun.failed"')
        expect(payload).to_contain_text(run_id)

        # the next live update (a fault armed elsewhere) keeps the open payload open
        emu.arm("latency", seconds=0.1, methods=["DELETE"], count=1)
        expect(page.locator("tr[data-fault]")).to_have_count(1)
        expect(payload).to_be_visible()
        assert page.evaluate("window.sameDocument") is True
        no_secret(page)
        assert page.errors == []  # type: ignore[attr-defined]


def test_a_fault_armed_elsewhere_appears_and_its_button_disarms_it(browser: Browser) -> None:
    with Emulator(api_key=API_KEY) as emu:
        page = open_dashboard(browser, emu)
        expect(page.locator("#faults")).to_contain_text("No fault armed.")

        emu.arm("status", status=503, methods=["POST"], count=5)
        fault_row = page.locator("tr[data-fault]")
        expect(fault_row).to_have_count(1)  # without reloading
        expect(fault_row).to_contain_text("status=503")
        fault_id = fault_row.get_attribute("data-fault")
        assert emu.api("POST", "/webhook", json={"url": "https://example.com/a",
                                                 "eventType": "workflowRun.completed"}).status_code == 503
        expect(fault_row.locator("td").nth(3)).to_have_text("1")  # its hits, live

        page.get_by_role("button", name=f"Disarm fault {fault_id} (status)").click()
        expect(page.locator(".notice")).to_contain_text(f"Disarmed fault {fault_id}.")
        expect(page.locator("tr[data-fault]")).to_have_count(0)
        assert emu.admin("GET", "/faults")["faults"] == []
        assert emu.api("POST", "/webhook", json={"url": "https://example.com/a",
                                                 "eventType": "workflowRun.completed"}).status_code == 200

        page.get_by_role("button", name="Switch quirk omit_total on").click()
        expect(page.locator('li[data-quirk="omit_total"]')).to_contain_text("on")
        assert emu.quirks()["omit_total"] is True
        assert "total" not in emu.api("GET", "/webhook").json()
        assert page.errors == []  # type: ignore[attr-defined]


def test_what_users_send_is_shown_as_text_never_run(browser: Browser) -> None:
    attack = '</pre></details><script>window.ran = 1</script><img src=x onerror="window.ran = 2">'
    with Receiver() as receiver, Emulator(api_key=API_KEY, run_seconds=0.1) as emu:
        register(emu, f"{receiver.url}/done", "workflowRun.completed")
        page = open_dashboard(browser, emu)
        emu.api("POST", "/workflow/WCFG-x/run", json={"startVariables": {}, "metadata": {"note": attack}})
        row = page.locator('tr[data-delivery]:has-text("workflowRun.completed")')
        expect(row).to_have_count(1)  # arrived through the live refresh
        row.locator("summary").click()
        expect(row.locator("pre")).to_contain_text(attack.replace('"', '\\"'))  # JSON-escaped quotes
        assert page.locator("#live script, #live img").count() == 0
        assert page.evaluate("window.ran") is None
        page.goto(emu.url + "/")  # and rendered by the server
        assert page.locator("#live script, #live img").count() == 0
        assert page.evaluate("window.ran") is None


def test_the_page_works_without_javascript(browser: Browser) -> None:
    with Emulator(api_key=API_KEY, run_seconds=0.1) as emu:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(emu.url + "/")
        expect(page.locator("#live-status")).to_contain_text("reload to update")
        page.fill("#workflow", WORKFLOW)
        page.click("text=Start run")
        expect(page.locator(".notice")).to_contain_text("Started workflow run WRUN-")
        expect(page.locator("tr[data-run]")).to_have_count(1)
        run_id = page.locator("tr[data-run]").get_attribute("data-run")
        assert [r["id"] for r in emu.runs(WORKFLOW)] == [run_id]
        requests.post(emu.url + "/_admin/faults", json={"mode": "status"}, timeout=5).raise_for_status()
        page.click("text=Reload")
        expect(page.locator("tr[data-fault]")).to_have_count(1)
        page.click("text=Disarm all")
        expect(page.locator(".notice")).to_contain_text("Disarmed every fault.")
        assert emu.admin("GET", "/faults")["faults"] == []
        context.close()


def test_the_readme_screenshot_script_still_works(tmp_path: Path) -> None:
    out = tmp_path / "dashboard.png"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "dashboard-screenshot.py"), str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
