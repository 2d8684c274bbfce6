"""The emulator's dashboard over plain HTTP: who may see it, who may post its forms, what it masks, how it says no.

The browser side (live refresh, buttons, a page without JavaScript) is tests/test_dashboard_browser.py.
"""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

import pytest
import requests

from pulumi_copyai.emulator.overview import mask_url
from pulumi_copyai.emulator.store import Store
from pulumi_copyai.emulator.testing import Emulator
from pulumi_copyai.origin import key_fingerprint

KEYS = ("dash-key-one-7f3a", "dash-key-two-91c2")


def non_loopback_address() -> str | None:
    """An address of this machine other than loopback (the one a default route would leave from), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.parametrize(("url", "shown"), [
    ("https://h.example/hook?token=abc&x=1", "https://h.example/hook?token=***&x=***"),
    ("https://user:pa55@h.example/p#frag", "https://user:***@h.example/p#***"),
    ("https://h.example/p?3f9c2a77b1", "https://h.example/p?***"),
    ("https://h.example/plain", "https://h.example/plain"),
    ("http://[::1/p?token=abc", "http://[::1/p?***"),  # not parseable: nothing after the path shown
])
def test_urls_are_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_webhooks_are_grouped_by_the_key_that_registered_them_with_secrets_masked() -> None:
    with Emulator(api_key=KEYS[0], extra_args=["--api-key", KEYS[1]]) as emu:
        for key, path in ((KEYS[0], "a"), (KEYS[1], "b"), (KEYS[0], "c")):
            requests.post(f"{emu.base_url}/webhook", headers={"x-copy-ai-api-key": key}, timeout=5,
                          json={"url": f"https://h.example/{path}?token=tok-{path}",
                                "eventType": "workflowRun.completed"}).raise_for_status()
        view = emu.admin("GET", "/overview")
        groups = {g["fingerprint"]: [h["url"] for h in g["webhooks"]] for g in view["keys"]}
        assert groups == {key_fingerprint(KEYS[0]): ["https://h.example/a?token=***", "https://h.example/c?token=***"],
                          key_fingerprint(KEYS[1]): ["https://h.example/b?token=***"]}
        html = requests.get(emu.url + "/", timeout=5).text
        for secret in (*KEYS, "tok-a", "tok-b", "tok-c"):
            assert secret not in html and secret not in str(view)
        assert f"key {key_fingerprint(KEYS[0])}" in html
        assert emu.requests() == [  # the dashboard's own requests are not API requests: the log has only the POSTs
            r for r in emu.requests() if r["method"] == "POST" and r["path"] == "/api/webhook"]


def test_forms_posted_from_another_site_are_refused_and_change_nothing() -> None:
    with Emulator() as emu:
        emu.arm("status", status=503, count=5)
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
            for path in ("/dashboard/faults/disarm", "/dashboard/runs", "/dashboard/quirks/omit_total"):
                answer = requests.post(emu.url + path, headers=headers, data={"workflow_id": "WCFG-1", "value": "on"},
                                       allow_redirects=False, timeout=5)
                assert answer.status_code == 403, (headers, path)
                assert "another site" in answer.text
        assert len(emu.admin("GET", "/faults")["faults"]) == 1
        assert emu.quirks()["omit_total"] is False
        emu.disarm()
        assert emu.runs("WCFG-1") == []
        same = requests.post(emu.url + "/dashboard/runs", headers={"Origin": emu.url, "Sec-Fetch-Site": "same-origin"},
                             data={"workflow_id": "WCFG-1"}, allow_redirects=False, timeout=5)
        assert same.status_code == 303 and same.headers["location"].startswith("/?started=WRUN-")
        assert len(emu.runs("WCFG-1")) == 1


def test_only_loopback_clients_see_the_dashboard() -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    with Emulator(extra_args=["--host", "0.0.0.0"]) as emu:
        outside = f"http://{address}:{emu.port}"
        for path in ("/", "/_admin/overview", "/dashboard/events"):
            answer = requests.get(outside + path, timeout=5)
            assert answer.status_code == 403 and "loopback clients only" in answer.text
        assert requests.post(outside + "/dashboard/faults/disarm", timeout=5).status_code == 403
        assert requests.get(f"http://127.0.0.1:{emu.port}/", timeout=5).status_code == 200
        assert requests.get(outside + "/api/webhook", headers={"x-copy-ai-api-key": emu.api_key},
                            timeout=5).status_code == 200  # the API itself answers wherever it is bound


def test_a_site_whose_name_resolves_to_loopback_gets_nothing() -> None:
    """DNS rebinding: a page of evil.example, its name now pointing at 127.0.0.1, is same-origin with itself."""
    with Emulator() as emu:
        emu.arm("status", status=503, count=5)
        page = requests.get(emu.url + "/", headers={"Host": f"evil.example:{emu.port}"}, timeout=5)
        assert page.status_code == 403 and "loopback address or localhost" in page.text
        form = requests.post(emu.url + "/dashboard/faults/disarm", timeout=5, allow_redirects=False,
                             headers={"Host": f"evil.example:{emu.port}", "Origin": f"http://evil.example:{emu.port}"})
        assert form.status_code == 403 and len(emu.admin("GET", "/faults")["faults"]) == 1
        for host in (f"localhost:{emu.port}", f"127.0.0.1:{emu.port}", f"[::1]:{emu.port}"):
            assert requests.get(emu.url + "/", headers={"Host": host}, timeout=5).status_code == 200, host


def test_bad_form_input_is_named_and_starts_nothing() -> None:
    with Emulator(credits=0) as emu:
        bad = requests.post(emu.url + "/dashboard/runs", data={"workflow_id": "nope"}, timeout=5)
        assert "Workflow id: it must start with WCFG- or PKGW-" in bad.text
        broke = requests.post(emu.url + "/dashboard/runs", data={"workflow_id": "WCFG-1"}, timeout=5)
        assert "No credits left: the run was not started" in broke.text and "/_admin/remaining-credits" in broke.text
        assert emu.runs("WCFG-1") == []
        gone = requests.post(emu.url + "/dashboard/faults/42/disarm", timeout=5)
        assert "That fault is no longer armed" in gone.text
        unknown = requests.post(emu.url + "/dashboard/quirks/shout", data={"value": "on"}, timeout=5)
        assert "Unknown quirk or value" in unknown.text


def test_a_crafted_link_cannot_put_words_on_the_page() -> None:
    with Emulator() as emu:
        page = requests.get(emu.url + "/", params={"started": "<script>alert(1)</script>", "quirk": "Send money"},
                            timeout=5)
        assert "<script>alert" not in page.text and "Send money" not in page.text and 'class="notice' not in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]


def test_one_fault_is_disarmed_by_id_through_the_admin_route() -> None:
    with Emulator() as emu:
        emu.arm("status", status=500, count=3)
        emu.arm("latency", seconds=0.1, count=3)
        first, second = (f["id"] for f in emu.admin("GET", "/faults")["faults"])
        left = emu.admin("DELETE", f"/faults/{first}")["faults"]
        assert [f["id"] for f in left] == [second]
        assert requests.delete(f"{emu.url}/_admin/faults/{first}", timeout=5).status_code == 404


def test_an_older_database_gains_the_registering_key(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as old:
        old.executescript("""CREATE TABLE webhooks (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
            url TEXT NOT NULL, event_type TEXT NOT NULL, workflow_id TEXT NOT NULL DEFAULT '');
            INSERT INTO webhooks (id, url, event_type)
            VALUES ('old1', 'https://h.example/x', 'workflowRun.completed');""")
    store = Store(str(db))
    try:
        (hook,) = store.list_webhooks(0, 10)[1]
        assert (hook.id, hook.key_fingerprint) == ("old1", "")
        assert store.add_webhook("https://h.example/y", "workflowRun.failed", "", "abc123").key_fingerprint == "abc123"
    finally:
        store.close()


def test_long_histories_show_the_newest_and_say_how_many_there_are() -> None:
    with Emulator(run_seconds=0) as emu:
        for event in ("workflowRun.started", "workflowRun.completed"):
            emu.api("POST", "/webhook", json={"url": "http://127.0.0.1:9/closed", "eventType": event})
        for _ in range(51):
            emu.api("POST", "/workflow/WCFG-many/run", json={}).raise_for_status()
        deadline = time.monotonic() + 20
        while len(emu.deliveries()) < 102 and time.monotonic() < deadline:
            time.sleep(0.1)
        view = emu.admin("GET", "/overview")
        assert (view["runs"]["total"], len(view["runs"]["recent"])) == (51, 50)
        assert (view["deliveries"]["total"], len(view["deliveries"]["recent"])) == (102, 100)
        html = requests.get(emu.url + "/", timeout=5).text
        assert "the newest 50 of 51" in html and "the newest 100 of 102" in html
        newest = max(emu.deliveries(), key=lambda d: d["seq"])
        assert view["deliveries"]["recent"][0]["seq"] == newest["seq"]
