"""`copyai-audit`: which webhooks of a Copy.ai workspace does no stack own, which are registered twice,
and which do states hold that are gone?

Copy.ai webhooks carry no owner label, so only the stacks' states say who owns what. This command
lists the workspace's webhooks (COPYAI_API_KEY / COPYAI_BASE_URL, or --api-key-env / --base-url) and
the Copy.ai webhooks recorded in every stack of the current Pulumi backend (or the stacks named
with --stack), through both front doors' resource types, and reports:

- managed:    in the workspace and in a stack (stack, resource name);
- orphan:     in the workspace, in no stack (a lost state, a killed run, a webhook made by hand);
- duplicate:  the same url, event type and workflow registered more than once (events fire twice);
- dangling:   in a stack's state, gone at the API (`pulumi refresh` drops it, `pulumi up` re-registers).

A table by default, `--json` for machines; the exit status is 1 when it finds an orphan, duplicate
or dangling webhook (for a scheduled CI job), 2 on errors. `--delete-orphans` shows what it would
delete and deletes only with `--yes`. URLs that are secret in a state are shown as [secret]; the
query string of any other URL is masked unless --show-urls. States are read without decrypting
secrets, so no passphrase is needed beyond what `pulumi stack export` asks for.

    copyai-audit [--stack ORG/PROJECT/STACK ...] [--json] [--delete-orphans [--yes]] [--show-urls]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .client import CopyAIClient
from .errors import CopyAIError
from .model import Webhook, normalize_url
from .recover import SECRET_SIG, TYPES
from .settings import Settings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Owned:
    """A webhook as a stack's state records it."""

    stack: str
    name: str
    id: str
    secret_url: bool


@dataclass
class Report:
    managed: list[dict[str, Any]] = field(default_factory=list)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    dangling: list[dict[str, Any]] = field(default_factory=list)
    stacks: list[str] = field(default_factory=list)

    @property
    def findings(self) -> int:
        return len(self.orphans) + len(self.duplicates) + len(self.dangling)


def owned_in(stack: str, deployment: dict[str, Any]) -> list[Owned]:
    """The Copy.ai webhooks a stack's deployment (`pulumi stack export`, secrets encrypted) records."""
    found = []
    for res in deployment.get("resources") or []:
        if res.get("type") not in TYPES or not res.get("id") or res.get("delete"):
            continue
        url = (res.get("outputs") or {}).get("url", (res.get("inputs") or {}).get("url"))
        secret = isinstance(url, dict) and SECRET_SIG in url
        found.append(Owned(stack, str(res["urn"]).rsplit("::", 1)[-1], str(res["id"]), secret))
    return found


def mask(url: str) -> str:
    """The URL with query values replaced by ***."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = urlencode([(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit(parts._replace(query=query))


def audit(hooks: list[Webhook], owned: list[Owned], stacks: list[str], show_urls: bool = False) -> Report:
    report = Report(stacks=stacks)
    by_id: dict[str, list[Owned]] = defaultdict(list)
    for o in owned:
        by_id[o.id].append(o)
    secret_ids = {o.id for o in owned if o.secret_url}

    def shown(hook: Webhook) -> str:
        if hook.id in secret_ids:
            return "[secret]"
        return hook.url if show_urls else mask(hook.url)

    def entry(hook: Webhook, **extra: Any) -> dict[str, Any]:
        return {"id": hook.id, "url": shown(hook), "eventType": hook.event_type, "workflowId": hook.workflow_id,
                **extra}

    at_api = {h.id for h in hooks}
    for hook in hooks:
        owners = by_id.get(hook.id)
        if owners:
            for o in owners:
                report.managed.append(entry(hook, stack=o.stack, resource=o.name))
        else:
            report.orphans.append(entry(hook))
    groups: dict[tuple[str, str, str | None], list[Webhook]] = defaultdict(list)
    for hook in hooks:
        groups[(normalize_url(hook.url), hook.event_type, hook.workflow_id or None)].append(hook)
    for same in groups.values():
        if len(same) > 1:
            report.duplicates.append({
                "url": shown(same[0]), "eventType": same[0].event_type, "workflowId": same[0].workflow_id,
                "webhooks": [{"id": h.id, "owners": [f"{o.stack}:{o.name}" for o in by_id.get(h.id, [])]}
                             for h in same],
            })
    for o in owned:
        if o.id not in at_api:
            report.dangling.append({"id": o.id, "stack": o.stack, "resource": o.name})
    return report


def render(report: Report) -> str:
    lines = [f"Audited {len(report.stacks)} stack(s) against the workspace's webhooks."]

    def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
        lines.append("")
        lines.append(f"{title} ({len(rows)})")
        if not rows:
            return
        cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in columns] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        for row in cells:
            lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))

    table("managed", report.managed, ["stack", "resource", "id", "eventType", "workflowId", "url"])
    table("orphans: in the workspace, in no stack", report.orphans, ["id", "eventType", "workflowId", "url"])
    dup_rows = [{"ids": " ".join(w["id"] + (f" ({', '.join(w['owners'])})" if w["owners"] else " (orphan)")
                                 for w in d["webhooks"]), **d} for d in report.duplicates]
    table("duplicates: registered more than once", dup_rows, ["eventType", "workflowId", "url", "ids"])
    table("dangling: in a state, gone at the API", report.dangling, ["stack", "resource", "id"])
    lines.append("")
    if report.findings:
        lines.append("Next steps: an orphan nobody needs goes with `copyai-audit --delete-orphans --yes`; a dangling "
                     "webhook goes with `pulumi refresh` in its stack (then `pulumi up` registers it again); of a "
                     "duplicate, keep the one a stack owns and delete the rest (or remove the declaration from all "
                     "but one stack).")
    else:
        lines.append("No orphan, duplicate or dangling webhook.")
    return "\n".join(lines)


def _pulumi(*args: str) -> str:
    done = subprocess.run(["pulumi", *args, "--non-interactive"], text=True, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"copyai-audit: `pulumi {' '.join(args)}` failed:\n{done.stderr or done.stdout}")
    return done.stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="copyai-audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", action="append", default=[],
                        help="a stack to include (repeatable; default: every stack of the backend)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--show-urls", action="store_true", help="show URLs' query strings (secret URLs never)")
    parser.add_argument("--delete-orphans", action="store_true", help="delete the orphans (with --yes)")
    parser.add_argument("--yes", action="store_true", help="act on --delete-orphans instead of showing the plan")
    parser.add_argument("--base-url", help="the API's base URL (default: COPYAI_BASE_URL, else Copy.ai's)")
    parser.add_argument("--api-key-env", default="COPYAI_API_KEY",
                        help="the environment variable holding the API key (default: COPYAI_API_KEY)")
    args = parser.parse_args(argv)

    stacks = args.stack or [s["name"] for s in json.loads(_pulumi("stack", "ls", "--all", "--json") or "[]")]
    owned: list[Owned] = []
    for name in stacks:
        deployment = json.loads(_pulumi("stack", "export", "--stack", name)).get("deployment") or {}
        owned += owned_in(name, deployment)
    config = {"copyai:apiKey": os.environ.get(args.api_key_env), "copyai:baseUrl": args.base_url}
    settings = Settings.resolve(config)
    try:
        client = CopyAIClient(settings.api_key, settings.base_url, timeout=settings.timeout,
                              retry_window=min(settings.retry_window, 60.0))
        hooks = client.scan_webhooks().webhooks
    except CopyAIError as exc:
        print(f"copyai-audit: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR) from None
    report = audit(hooks, owned, stacks, show_urls=args.show_urls)

    print(json.dumps(asdict(report), indent=2) if args.json else render(report))
    if args.delete_orphans and report.orphans:
        ids = [o["id"] for o in report.orphans]
        if not args.yes:
            print(f"\nWould delete {len(ids)} orphan(s): {' '.join(ids)}. Run again with --yes to delete them.",
                  file=sys.stderr)
        else:
            for webhook_id in ids:
                client.delete_webhook(webhook_id)
            print(f"\nDeleted {len(ids)} orphan(s): {' '.join(ids)}", file=sys.stderr)
            report.orphans = []
    raise SystemExit(EXIT_FINDINGS if report.findings else EXIT_CLEAN)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
