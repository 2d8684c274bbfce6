"""Take the README's screenshot of the emulator's dashboard (docs/images/dashboard.png).

    source scripts/env.sh && python scripts/dashboard-screenshot.py [OUT.png]

Starts an emulator and a receiver of its own on free ports, registers a few webhooks (one with a token in its
query, masked on the page), runs a workflow to completion and one to failure, arms a fault, opens one payload,
and photographs the page in headless Chromium (tests/browser.py: Debian's chromium driven by Playwright).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect  # noqa: E402

from pulumi_copyai.emulator.testing import Emulator, Receiver  # noqa: E402
from tests.browser import chromium  # noqa: E402


def main(out: Path) -> None:
    with Receiver() as receiver, Emulator(api_key="screenshot-key", run_seconds=0.3) as emu, chromium() as browser:
        for path, event, workflow in (("/copy/completed?token=9f8e7d6c5b4a", "workflowRun.completed", "WCFG-blog"),
                                      ("/copy/failed", "workflowRun.failed", "WCFG-blog"),
                                      ("/ops/started", "workflowRun.started", None),
                                      ("/ops/credits", "workflowCreditLimit.reached", None)):
            body = {"url": receiver.url + path, "eventType": event, **({"workflowId": workflow} if workflow else {})}
            emu.api("POST", "/webhook", json=body).raise_for_status()
        emu.api("POST", "/workflow/WCFG-blog/run", json={"startVariables": {"topic": "webhooks"}}).raise_for_status()
        emu.api("POST", "/workflow/WCFG-blog/run",
                json={"startVariables": {"emulatorOutcome": "failed"}}).raise_for_status()
        receiver.wait_for(4)
        emu.arm("status", status=503, methods=["POST"], count=2)
        emu.arm("latency", seconds=0.8, probability=0.2)
        page = browser.new_page(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
        page.goto(emu.url + "/")
        expect(page.locator("#live-status")).to_contain_text("live")
        page.locator('tr[data-delivery]:has-text("workflowRun.failed") summary').click()
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "dashboard.png")
