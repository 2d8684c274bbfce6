"""The dashboard's HTML, CSS and script: plain strings rendered from `overview.overview()`.

Everything is escaped here (`html.escape`), nothing comes from a CDN, and the page works without
JavaScript (forms post and come back, a link reloads); the script only swaps the live part of the page
when the server-sent event stream says it changed, keeping open payloads open.
"""

from __future__ import annotations

import json
import re
import time
from html import escape
from typing import Any

from .openapi import FAIL_VARIABLE

LIVE_ID = "live"


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _clock(epoch: float) -> str:
    """HH:MM:SS.mmm in UTC."""
    return time.strftime("%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}"


def _number(value: Any) -> str:
    """2 rather than 2.0; None as unlimited."""
    if value is None:
        return "unlimited"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _setting(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, (dict, bool)) or value is None:
        return json.dumps(value)
    return _number(value)


def _table(caption: str, headers: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    return (f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _webhooks(view: dict[str, Any]) -> str:
    parts = [f'<section id="webhooks" aria-labelledby="webhooks-h"><h2 id="webhooks-h">Webhooks '
             f'<span class="count">{view["webhooks"]["total"]}</span></h2>',
             '<p class="hint">Every accepted key reaches the same workspace; webhooks are grouped by the key that '
             "registered them, shown by its fingerprint (a stack's state records the same one as "
             "<code>apiKeyFingerprint</code>). Query strings, passwords and fragments are masked.</p>"]
    if view["webhooks"]["shown"] < view["webhooks"]["total"]:
        parts.append(f'<p class="hint">Showing the first {view["webhooks"]["shown"]}.</p>')
    for group in view["keys"]:
        fingerprint = group["fingerprint"] or "unknown"
        label = (f"key {fingerprint}" if group["accepted"] else
                 f"key {fingerprint} (not accepted now)" if group["fingerprint"] else
                 "registered before keys were recorded")
        rows = [f'<tr data-webhook="{_e(h["id"])}"><td><code>{_e(h["id"])}</code></td><td class="url">{_e(h["url"])}'
                f'</td><td>{_e(h["eventType"])}</td><td>{_e(h["workflowId"] or "every workflow")}</td></tr>'
                for h in group["webhooks"]]
        parts.append(f'<h3 class="key" data-key-fingerprint="{_e(group["fingerprint"])}">{_e(label)} '
                     f'<span class="count">{len(group["webhooks"])}</span></h3>')
        parts.append(_table(f"Webhooks registered with {label}", ["id", "url", "event type", "workflow"], rows,
                            "No webhooks."))
    parts.append("</section>")
    return "".join(parts)


def _runs(view: dict[str, Any]) -> str:
    rows = [f'<tr data-run="{_e(r["id"])}"><td><code>{_e(r["id"])}</code></td><td><code>{_e(r["workflowId"])}</code>'
            f'</td><td><span class="status {_e(r["status"].lower())}">{_e(r["status"])}</span></td>'
            f'<td>{_e(_number(r["credits"]))}</td><td>{_e(r["createdAt"])}</td></tr>'
            for r in view["runs"]["recent"]]
    credits, total = view["credits"], view["runs"]["total"]
    left, used, cost = (_e(_number(credits[k])) for k in ("credits", "used", "run_cost"))
    more = f" (the newest {len(rows)} of {total})" if len(rows) < total else ""
    return (f'<section id="runs" aria-labelledby="runs-h"><h2 id="runs-h">Workflow runs '
            f'<span class="count">{total}</span></h2>'
            f'<p class="hint">Credits left: <strong data-credits>{left}</strong>, used: {used}, a run costs {cost}.</p>'
            + _table(f"Newest workflow runs{more}", ["run", "workflow", "status", "credits", "started (UTC)"], rows,
                     "No runs yet.") + "</section>")


def _deliveries(view: dict[str, Any]) -> str:
    rows = []
    for d in view["deliveries"]["recent"]:
        if d["error"]:
            outcome = f'<span class="status failed">{_e(d["error"])}</span>'
        else:
            kind = "complete" if 200 <= (d["status"] or 0) < 300 else "failed"
            outcome = f'<span class="status {kind}">HTTP {_e(d["status"])}</span>'
        duration = "" if d["duration"] is None else f"{d['duration'] * 1000:.0f} ms"
        rows.append(
            f'<tr data-delivery="{_e(d["seq"])}"><td>{_clock(d["time"])}</td><td>{_e(d["type"])}</td>'
            f'<td class="url">{_e(d["url"])}</td><td>{outcome}</td><td>{duration}</td>'
            f'<td><details data-key="delivery-{_e(d["seq"])}"><summary>payload</summary>'
            f'<pre>{_e(d["payload"])}</pre></details></td></tr>')
    total, shown = view["deliveries"]["total"], len(view["deliveries"]["recent"])
    more = f" (the newest {shown} of {total}; GET /_admin/deliveries has them all)" if shown < total else ""
    return (f'<section id="deliveries" aria-labelledby="deliveries-h"><h2 id="deliveries-h">Event deliveries '
            f'<span class="count">{total}</span></h2>'
            + _table(f"Newest event deliveries{more}", ["time (UTC)", "event", "target url", "outcome", "duration",
                                                 "payload"], rows, "No deliveries yet.") + "</section>")


def _faults(view: dict[str, Any]) -> str:
    rows = []
    for f in view["faults"]:
        settings = ", ".join(f"{k}={_setting(v)}" for k, v in f["settings"].items())
        state = ' <span class="status spent">spent</span>' if f["spent"] else ""
        rows.append(
            f'<tr data-fault="{f["id"]}"><td>{f["id"]}</td><td><strong>{_e(f["mode"])}</strong>{state}</td>'
            f'<td><code>{_e(settings)}</code></td><td>{f["hits"]}</td><td>'
            f'<form method="post" action="/dashboard/faults/{f["id"]}/disarm">'
            f'<button type="submit" aria-label="Disarm fault {f["id"]} ({_e(f["mode"])})">Disarm</button>'
            f"</form></td></tr>")
    disarm_all = ('<form method="post" action="/dashboard/faults/disarm"><button type="submit">Disarm all</button>'
                  "</form>") if rows else ""
    quirks = []
    for name, on in view["quirks"].items():
        state, switch = ("on", "off") if on else ("off", "on")
        quirks.append(
            f'<li data-quirk="{_e(name)}"><code>{_e(name)}</code>: <strong>{state}</strong> '
            f'<form method="post" action="/dashboard/quirks/{_e(name)}" class="inline">'
            f'<input type="hidden" name="value" value="{switch}">'
            f'<button type="submit" aria-label="Switch quirk {_e(name)} {switch}">Switch {switch}</button></form></li>')
    return (f'<section id="faults" aria-labelledby="faults-h"><h2 id="faults-h">Faults '
            f'<span class="count">{len(rows)}</span></h2>'
            + _table("Armed faults (POST /_admin/faults arms one)", ["id", "mode", "settings", "hits", ""], rows,
                     "No fault armed.") + disarm_all
            + f'<h3>Quirks</h3><ul class="quirks">{"".join(quirks)}</ul></section>')


def live(view: dict[str, Any]) -> str:
    """The part of the page the live refresh replaces."""
    return _deliveries(view) + _runs(view) + _webhooks(view) + _faults(view)


#: kind -> (the shape its value must have, the message): a crafted link cannot put other words on the page.
_NOTICES = {
    "started": (r"WRUN-[0-9a-f-]{36}", "Started workflow run {}."),
    "disarmed": (r"[0-9]{1,9}", "Disarmed fault {}."),
    "disarmed-all": (r"1", "Disarmed every fault."),
    "quirk": (r"[a-z_]{1,40} (on|off)", "Switched quirk {}."),
}


_REFUSALS = {
    "workflow": "Workflow id: it must start with WCFG- or PKGW- (as Copy.ai's do); the run was not started.",
    "credits": "No credits left: the run was not started. Set more with POST /_admin/remaining-credits "
               '(e.g. {"remaining": 10}) or restart the emulator without --credits.',
    "fault": "That fault is no longer armed (spent, expired or disarmed already).",
    "quirk": "Unknown quirk or value: nothing was switched.",
}


def refusal(kind: str) -> str:
    """The error after a refused form (`kind` from the redirect's query: only known kinds are shown)."""
    return _REFUSALS.get(kind, "")


def notice(kind: str, value: str) -> str:
    """The message after a form's action (`kind` from the redirect's query: only known kinds are shown)."""
    shape, template = _NOTICES.get(kind, ("", ""))
    return template.format(value) if shape and re.fullmatch(shape, value) else ""


def page(view: dict[str, Any], api_base_url: str, message: str = "", error: str = "") -> str:
    """The whole dashboard."""
    banner = ""
    if message:
        banner = f'<p class="notice" role="status">{_e(message)}</p>'
    if error:
        banner = f'<p class="notice error" role="alert">{_e(error)}</p>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Copy.ai emulator</title>
<link rel="icon" href="/dashboard/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/style.css">
<script src="/dashboard/live.js" defer></script>
</head>
<body>
<header>
<h1>Copy.ai emulator</h1>
<p>API base URL <code>{_e(api_base_url)}</code> &middot; <a href="/">Reload</a> &middot;
<span id="live-status" aria-live="polite">reload to update (live refresh needs JavaScript)</span></p>
</header>
<main>
{banner}
<section id="start-run" aria-labelledby="start-run-h">
<h2 id="start-run-h">Start a workflow run</h2>
<form method="post" action="/dashboard/runs">
<label for="workflow">Workflow id</label>
<input id="workflow" name="workflow_id" required pattern="(WCFG|PKGW)-.+" value="WCFG-emulator"
 aria-describedby="workflow-hint">
<span id="workflow-hint" class="hint">WCFG-&hellip; or PKGW-&hellip;</span>
<fieldset><legend>Outcome</legend>
<label><input type="radio" name="outcome" value="completed" checked> completed</label>
<label><input type="radio" name="outcome" value="failed"> failed ({_e(FAIL_VARIABLE)}=failed)</label>
</fieldset>
<button type="submit">Start run</button>
</form>
</section>
<div id="{LIVE_ID}">
{live(view)}
</div>
</main>
</body>
</html>
"""


STYLE = """
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --ok: #1a7f37; --bad: #cf222e;
        --run: #9a6700; --bg: #fff; --panel: #f6f8fa; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --ok: #3fb950; --bad: #f85149; --run: #d29922;
          --bg: #0d1117; --panel: #151b23; }
}
body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto;
       max-width: 1200px; padding: 0 1rem 3rem; }
header { border-bottom: 1px solid var(--line); margin-bottom: 1rem; }
h1 { font-size: 1.5rem; margin: 1rem 0 .25rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
.count { font-size: .8rem; background: var(--panel); border: 1px solid var(--line); border-radius: 1rem;
         padding: 0 .5rem; vertical-align: middle; }
.hint, .empty, caption { color: var(--muted); }
caption { text-align: left; font-size: .85rem; padding: .25rem 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: .3rem .5rem; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.url { min-width: 16rem; word-break: break-all; font-family: ui-monospace, monospace; font-size: .85rem; }
code, pre { font-family: ui-monospace, monospace; font-size: .85rem; }
pre { background: var(--panel); padding: .5rem; margin: .25rem 0; max-width: 40rem; overflow: auto; }
.status { font-weight: 600; }
.status.complete { color: var(--ok); }
.status.failed { color: var(--bad); }
.status.processing, .status.spent { color: var(--run); }
.notice { background: var(--panel); border-left: 4px solid var(--ok); padding: .5rem .75rem; }
.notice.error { border-left-color: var(--bad); }
form.inline { display: inline; }
fieldset { border: 1px solid var(--line); margin: .5rem 0; }
label { margin-right: .75rem; }
input[type=text], input:not([type]) { padding: .25rem; min-width: 22rem; }
button { padding: .2rem .75rem; cursor: pointer; }
ul.quirks { list-style: none; padding: 0; }
ul.quirks li { margin: .25rem 0; }
"""

SCRIPT = """
(function () {
  "use strict";
  var live = document.getElementById("live");
  var status = document.getElementById("live-status");
  if (!live || !window.EventSource) { return; }
  status.textContent = "connecting to live refresh\\u2026";
  var source = new EventSource("/dashboard/events");
  source.onopen = function () { status.textContent = "live: updates as they happen"; };
  source.onerror = function () { status.textContent = "live refresh lost; retrying\\u2026"; };
  source.addEventListener("live", function (event) {
    var open = {};
    live.querySelectorAll("details[open]").forEach(function (d) { open[d.dataset.key] = true; });
    live.innerHTML = event.data;
    live.querySelectorAll("details").forEach(function (d) { if (open[d.dataset.key]) { d.open = true; } });
    status.textContent = "live: updated " + new Date().toLocaleTimeString();
  });
})();
"""

ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
        'fill="#1f6feb"/><path d="M4 8h8M8 4v8" stroke="#fff" stroke-width="2"/></svg>')
