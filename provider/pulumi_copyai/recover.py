"""`copyai-recover`: settle the webhooks a killed `pulumi up` left half-done, with no duplicate and no orphan.

When `pulumi up` dies mid-run (SIGKILL, a lost CI runner), the state keeps "pending creates": webhooks
whose POST was sent but whose id never reached the state. Some were registered at Copy.ai, some not.
For each pending create of a Copy.ai webhook (either front door's type), this command looks for the
webhook it may have registered (same url, event type and workflow, held by no resource of the
stack, the newest first), removes it at Copy.ai, and then clears exactly these pending creates
through the engine (`pulumi refresh --clear-pending-creates`, or, when other resources have pending
creates too, an interactive `pulumi refresh` answered "clear" for ours and "skip" for theirs). The
next `pulumi up` registers the webhooks again, once each. An adoption (`import_id`) is only
cleared: its webhook existed before and is adopted again. Pending operations of other resources are
left as they are.

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
from dataclasses import dataclass, field
from typing import Any

from .client import CopyAIClient
from .errors import CopyAIError
from .model import Webhook
from .settings import CONFIG_KEYS, Settings

#: The resource types of a Copy.ai webhook: the dynamic provider's and the plugin's.
TYPES = ("pulumi-python:dynamic/copyai:CopyAIWebhook", "copyai:index:Webhook")
SECRET_SIG = "4dabf18193072939515e22adb298388d"
#: The inputs of each type, under the core's names.
_NAMES = {"url": ("url",), "event_type": ("event_type", "eventType"), "workflow_id": ("workflow_id", "workflowId"),
          "import_id": ("import_id",)}


@dataclass
class Plan:
    """What recovery does: webhooks to remove at Copy.ai, then pending creates to clear."""

    removes: list[tuple[str, str]] = field(default_factory=list)  # (urn, webhook id registered by the killed run)
    clears: list[str] = field(default_factory=list)  # urns of our pending creates, all of them
    others: list[str] = field(default_factory=list)  # urns of other resources' pending creates (left alone)
    other_ops: int = 0  # other pending operations (updates, deletes, ...): the refresh settles them


def _plain(value: Any) -> Any:
    """A value of `pulumi stack export --show-secrets`, with its secret wrapper removed."""
    if isinstance(value, dict) and value.get(SECRET_SIG) and "plaintext" in value:
        return json.loads(value["plaintext"])
    return value


def _inputs(resource: dict[str, Any]) -> dict[str, Any]:
    raw = {k: _plain(v) for k, v in (resource.get("inputs") or {}).items()}
    return {key: next((raw[n] for n in names if raw.get(n) not in (None, "")), None) for key, names in _NAMES.items()}


def plan(deployment: dict[str, Any], hooks: list[Webhook]) -> Plan:
    """Match our pending creates to the webhooks they registered.

    `deployment` comes from `pulumi stack export --show-secrets` (kept in memory), so a secret url
    can be matched; `hooks` is the workspace's webhook list, oldest first.
    """
    held = {r.get("id") for r in deployment.get("resources") or [] if r.get("type") in TYPES}
    free = [h for h in reversed(hooks) if h.id not in held]  # the newest first: the killed run's
    result = Plan()
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
        if inputs["import_id"]:
            continue  # an adoption: the webhook existed before and stays
        match = next((h for h in free if h.matches(str(inputs["url"] or ""), str(inputs["event_type"] or ""),
                                                   inputs["workflow_id"])), None)
        if match is not None:
            free.remove(match)
            result.removes.append((res["urn"], match.id))
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
        client = CopyAIClient(settings.api_key, settings.base_url, timeout=settings.timeout,
                              retry_window=min(settings.retry_window, 60.0))
        result = plan(deployment, client.scan_webhooks().webhooks)
    except CopyAIError as exc:
        raise SystemExit(f"copyai-recover: {exc}; nothing was changed") from None
    removes = dict(result.removes)
    for urn in result.clears:
        if urn in removes:
            print(f"remove  webhook {removes[urn]} at Copy.ai, clear  {urn}  (registered by the interrupted run; "
                  "`pulumi up` registers it again)")
        else:
            print(f"clear   {urn}  (never registered; `pulumi up` registers it)")
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
    left = {op["resource"]["urn"] for op in pulumi.deployment().get("pending_operations") or []}
    if left & set(result.clears):
        remaining = ", ".join(sorted(left & set(result.clears)))
        raise SystemExit(f"copyai-recover: pending creates remain after the refresh: {remaining}")
    print("copyai-recover: done; run `pulumi up` to register what is missing")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
