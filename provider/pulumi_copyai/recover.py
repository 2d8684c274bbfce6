"""`copyai-recover`: settle the webhooks a killed `pulumi up` left half-done, with no duplicate and no orphan,
and without touching anyone else's webhook.

When `pulumi up` dies mid-run (SIGKILL, a lost CI runner), the state keeps "pending creates": webhooks
whose POST was sent but whose id never reached the state. Some were registered at Copy.ai, some not.
For each pending create of a Copy.ai webhook (either front door's type), this command removes the
webhook the killed run registered, if it can attribute one, and then clears exactly these pending
creates through the engine (`pulumi refresh --clear-pending-creates`, or, when other resources have
pending creates too, an interactive `pulumi refresh` answered "clear" for ours and "skip" for theirs).
The next `pulumi up` registers the webhooks again, once each. An adoption (`import_id`) is only
cleared: its webhook existed before and is adopted again. Pending operations of other resources are
left as they are.

A webhook is attributed to the killed run only on evidence (see `ownership` and `journal`):
- the provider's journal on this machine says that run's create registered it, or
- the journal shows the run's POST in flight, and the webhook matches it (url, event type, workflow),
  was absent from the view of the workspace the run took before that POST, and no more such
  webhooks exist than POSTs were in flight;
and in every case no stack of the backend records it. Anything else (another stack's webhook, one
made by hand, a create with no journal entry here because the run was on another machine) is left
alone and listed: `copyai-audit` shows it again after `pulumi up`.

Why remove and re-register rather than import: this CLI's `pulumi refresh --import-pending-creates
URN ID` drops the pending create without adding the resource to the state (v3.274.1, DIY
backends), and `pulumi stack import` drops every pending operation, other resources' too.

    copyai-recover [--stack NAME] [--cwd PROJECT_DIR] [--dry-run]

It reads `copyai:apiKey`/`copyai:baseUrl` like the provider (stack config, then COPYAI_API_KEY /
COPYAI_BASE_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from . import journal
from .client import CopyAIClient
from .errors import CopyAIError
from .model import Webhook
from .settings import CONFIG_KEYS, Settings
from .stacks import SECRET_SIG, TYPES, BackendError, read_backend

#: The inputs of each type, under the core's names.
_NAMES = {"url": ("url",), "event_type": ("event_type", "eventType"), "workflow_id": ("workflow_id", "workflowId"),
          "import_id": ("import_id",)}


@dataclass
class Plan:
    """What recovery does: webhooks to remove at Copy.ai, then pending creates to clear."""

    removes: list[tuple[str, str]] = field(default_factory=list)  # (urn, webhook id registered by the killed run)
    clears: list[str] = field(default_factory=list)  # urns of our pending creates, all of them
    left: list[tuple[str, str, str]] = field(default_factory=list)  # (urn, webhook id, why it is left alone)
    others: list[str] = field(default_factory=list)  # urns of other resources' pending creates (left alone)
    other_ops: int = 0  # other pending operations (updates, deletes, ...): the refresh settles them
    used: list[journal.Entry] = field(default_factory=list)  # journal entries this recovery settles


def _plain(value: Any) -> Any:
    """A value of `pulumi stack export --show-secrets`, with its secret wrapper removed."""
    if isinstance(value, dict) and value.get(SECRET_SIG) and "plaintext" in value:
        return json.loads(value["plaintext"])
    return value


def _inputs(resource: dict[str, Any]) -> dict[str, Any]:
    raw = {k: _plain(v) for k, v in (resource.get("inputs") or {}).items()}
    return {key: next((raw[n] for n in names if raw.get(n) not in (None, "")), None) for key, names in _NAMES.items()}


def _key(inputs: dict[str, Any]) -> tuple[str, str, str | None]:
    record = journal.key_record(str(inputs["url"] or ""), str(inputs["event_type"] or ""), inputs["workflow_id"])
    return record["url"], record["eventType"], record["workflowId"]


def plan(deployment: dict[str, Any], hooks: list[Webhook], entries: list[journal.Entry],
         recorded: set[str] | None = None) -> Plan:
    """Match our pending creates to the webhooks they registered, on the journal's evidence.

    `deployment` comes from `pulumi stack export --show-secrets` (kept in memory), so a secret url
    can be matched; `hooks` is the workspace's webhook list; `entries` the workspace's journal;
    `recorded` the ids that any stack of the backend records (this one's at least).
    """
    recorded = set(recorded or ()) | {r.get("id") for r in deployment.get("resources") or [] if r.get("type") in TYPES}
    at_api = {h.id: h for h in hooks}
    result = Plan()
    groups: dict[tuple[str, str, str | None], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    answered: dict[tuple[str, str, str | None], int] = defaultdict(int)  # creates the engine saw answered, by key
    for op in deployment.get("pending_operations") or []:
        res = op.get("resource") or {}
        if op.get("type") != "creating":
            result.other_ops += 1
            continue
        if res.get("type") not in TYPES:
            result.others.append(res["urn"])
            continue
        result.clears.append(res["urn"])
        inputs = _inputs(res)
        if inputs["import_id"]:  # an adoption: the webhook existed before and stays
            continue
        registered = res.get("id")
        if registered:
            # The engine itself saved the provider's answer in the pending create before the kill: the best
            # evidence there is. That webhook is this create's (unless a resource of a stack records it).
            answered[_key(inputs)] += 1
            if registered in at_api and registered not in recorded:
                result.removes.append((res["urn"], registered))
            continue
        groups[_key(inputs)].append((res["urn"], inputs))
    taken = {webhook_id for _, webhook_id in result.removes}
    for key, creates in groups.items():
        urns = {urn for urn, _ in creates}
        mine = [e for e in entries if e.settled in (None, "registered", "adopted")
                and (e.key.get("url"), e.key.get("eventType"), e.key.get("workflowId")) == key
                and (e.urn is None or e.urn in urns)]
        looks = [h for h in hooks if journal.url_digest(h.url) == key[0] and h.event_type == key[1]
                 and (h.workflow_id or None) == key[2] and h.id not in recorded and h.id not in taken]
        proven = {e.webhook for e in mine if e.settled in ("registered", "adopted") and e.webhook in at_api
                  and e.webhook not in recorded and e.webhook not in taken}
        in_flight = [e for e in mine if e.settled is None]
        # journal entries of the same key may belong to the creates the engine saw answered (a dynamic
        # provider's entries carry no URN): those POSTs are accounted for, not still in flight
        unaccounted = max(0, len(in_flight) - answered[key])
        before = {i for e in in_flight for i in e.existing}
        newer = [h.id for h in looks if h.id not in proven and h.id not in before]
        attributed = sorted(proven) + (newer if newer and len(newer) <= unaccounted else [])
        for i, webhook_id in enumerate(attributed):
            result.removes.append((creates[min(i, len(creates) - 1)][0], webhook_id))
        for hook in looks:
            if hook.id in attributed:
                continue
            if not mine:
                why = "no journal entry for this create on this machine (was the run elsewhere?)"
            elif hook.id in before:
                why = "it existed before the interrupted run's POST"
            else:
                why = (f"{len(newer)} look-alikes appeared for {len(in_flight)} POST(s) in flight: "
                       "which is ours is unknown")
            result.left.append((creates[0][0], hook.id, why))
        if attributed or in_flight:
            result.used.extend(mine)
    return result


class Pulumi:
    """The Pulumi CLI calls recovery needs (none of them runs the program)."""

    def __init__(self, stack: str | None, cwd: str | None) -> None:
        self.stack = stack
        self.cwd = cwd

    def _args(self, *args: str) -> list[str]:
        return ["pulumi", *args] + (["--stack", self.stack] if self.stack else [])

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self._args(*args, "--non-interactive"), cwd=self.cwd, text=True, capture_output=True,
                              check=False)
        if check and done.returncode != 0:
            raise SystemExit(f"copyai-recover: `pulumi {' '.join(args)}` failed:\n{done.stderr or done.stdout}")
        return done

    def config(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key in CONFIG_KEYS:
            done = self.run("config", "get", f"copyai:{key}", check=False)
            if done.returncode == 0:
                values[f"copyai:{key}"] = done.stdout.strip()
        return values

    def deployment(self) -> dict[str, Any]:
        """The stack's deployment with secrets revealed, in memory only."""
        exported = json.loads(self.run("stack", "export", "--show-secrets").stdout)
        return dict(exported.get("deployment") or {})

    def refresh_clearing(self, ours: set[str]) -> str:
        """`pulumi refresh` that clears exactly the pending creates in `ours`; others are skipped."""
        deployment = self.deployment()
        pending = {op["resource"]["urn"] for op in deployment.get("pending_operations") or []
                   if op.get("type") == "creating"}
        if pending <= ours:
            return self.run("refresh", "--yes", "--skip-preview", "--clear-pending-creates").stdout
        return self._interactive_refresh(ours)

    def _interactive_refresh(self, ours: set[str]) -> str:
        """The engine asks, per pending create, clear / skip / import: answer it in a terminal."""
        import pexpect

        # The CLI asks only in a terminal and outside CI: give it a pty and a clean environment.
        keep = ("PATH", "HOME", "USER", "LANG", "VIRTUAL_ENV", "PYTHONPATH", "TMPDIR")
        env = {k: v for k, v in os.environ.items() if k in keep or k.startswith(("PULUMI_", "COPYAI_"))}
        env["TERM"] = "xterm"
        cmd = self._args("refresh", "--yes", "--skip-preview")
        child = pexpect.spawn(cmd[0], cmd[1:], cwd=self.cwd, env=env, encoding="utf-8", timeout=120,
                              dimensions=(50, 400))
        Pattern = re.Pattern[str] | re.Pattern[bytes] | str | bytes | type[pexpect.EOF] | type[pexpect.TIMEOUT]
        patterns: list[Pattern] = [
            # The question, while it waits for an answer (re-renders after an answer lack the hint).
            re.compile(r"Options for pending CREATE of (urn:pulumi:[^\s\x1b]+)[^\r\n]*?Use arrows"),
            re.compile(r"Confirm\? \(y/N\)"),
            re.compile(re.escape("\x1b[6n")),  # the prompt library asks the terminal where the cursor is
            pexpect.EOF,
        ]
        transcript: list[str] = []
        answered: set[str] = set()
        while True:
            index = child.expect(patterns)
            transcript.append(child.before or "")
            if index == 0:
                assert isinstance(child.match, re.Match)
                urn = child.match.group(1)
                if urn not in answered:  # the menu is drawn again when the selection moves
                    answered.add(urn)
                    # Options in order: clear (selected), skip, import.
                    child.send("\r" if urn in ours else "\x1b[B\r")
            elif index == 1:
                child.send("y\r")  # "This command will edit your stack's state directly"
            elif index == 2:
                child.send("\x1b[1;1R")
            else:
                break
        child.close()
        if child.exitstatus != 0:
            raise SystemExit("copyai-recover: `pulumi refresh` failed:\n" + "".join(transcript)[-3000:])
        return "".join(transcript)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="copyai-recover", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", help="the stack (default: the selected one)")
    parser.add_argument("--cwd", help="the Pulumi project directory (default: the current one)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be done, change nothing")
    args = parser.parse_args(argv)

    pulumi = Pulumi(args.stack, args.cwd)
    deployment = pulumi.deployment()
    if not deployment.get("pending_operations"):
        print("copyai-recover: no pending operations; nothing to recover")
        return
    settings = Settings.resolve(pulumi.config())
    try:
        # every stack of the backend: never theirs; but not this stack's own pending creates, which this
        # recovery clears (their ids are what the interrupted run registered)
        ours = {str((op.get("resource") or {}).get("urn")) for op in deployment.get("pending_operations") or []
                if op.get("type") == "creating"}
        recorded = read_backend(cwd=args.cwd).owned_ids(clearing=ours)
    except BackendError as exc:
        raise SystemExit(f"copyai-recover: {exc}; nothing was changed") from None
    try:
        client = CopyAIClient(settings.api_key, settings.base_url, timeout=settings.timeout,
                              retry_window=min(settings.retry_window, 60.0))
        folder = journal.journal_root() / journal.workspace_digest(client.base_url, settings.api_key or "")
        result = plan(deployment, client.scan_webhooks().webhooks, journal.read(folder), recorded)
    except CopyAIError as exc:
        raise SystemExit(f"copyai-recover: {exc}; nothing was changed") from None
    removes = dict(result.removes)
    for urn in result.clears:
        if urn in removes:
            print(f"remove  webhook {removes[urn]} at Copy.ai, clear  {urn}  (registered by the interrupted run; "
                  "`pulumi up` registers it again)")
        else:
            print(f"clear   {urn}  (nothing it registered is left; `pulumi up` registers it)")
    for urn, webhook_id in result.removes:
        if removes.get(urn) != webhook_id:
            print(f"remove  webhook {webhook_id} at Copy.ai  (also registered by the interrupted run for {urn})")
    for urn, webhook_id, why in result.left:
        print(f"leave   webhook {webhook_id}  (looks like {urn}, but {why}; no stack records it: "
              "see `copyai-audit` once `pulumi up` has run)")
    for urn in result.others:
        print(f"leave   {urn}  (another resource's pending create)")
    if result.other_ops:
        print(f"refresh {result.other_ops} other pending operation(s)")
    if args.dry_run or not result.clears:
        return
    try:
        for _, webhook_id in result.removes:
            client.delete_webhook(webhook_id)
    except CopyAIError as exc:
        raise SystemExit(f"copyai-recover: {exc}; run copyai-recover again once the API answers") from None
    pulumi.refresh_clearing(set(result.clears))
    journal.mark_recovered(result.used)
    left = {op["resource"]["urn"] for op in pulumi.deployment().get("pending_operations") or []}
    if left & set(result.clears):
        remaining = ", ".join(sorted(left & set(result.clears)))
        raise SystemExit(f"copyai-recover: pending creates remain after the refresh: {remaining}")
    print("copyai-recover: done; run `pulumi up` to register what is missing")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
