"""`copyai-audit`: which webhooks of a Copy.ai workspace does no stack own, which are registered twice,
and which do states hold that are gone?

Copy.ai webhooks carry no owner label, so only the stacks' states say who owns what. This command
lists the workspace's webhooks (COPYAI_API_KEY / COPYAI_BASE_URL, or --api-key-env / --base-url) and
the Copy.ai webhooks recorded in every stack of the current Pulumi backend (or the stacks named
with --stack), through both front doors' resource types (`stacks.read_backend`), and reports:

- managed:    in the workspace and in a stack (stack, resource name);
- orphan:     in the workspace, in no stack (a lost state, a killed run, a webhook made by hand);
- duplicate:  the same url, event type and workflow registered more than once (events fire twice);
- dangling:   in a stack's state, gone at the API (`pulumi refresh` drops it, `pulumi up` re-registers);
- elsewhere:  in a stack's state, recorded as registered at another API or workspace (not audited here).

A table by default, `--json` for machines; the exit status is 1 when it finds an orphan, duplicate
or dangling webhook (for a scheduled CI job), 2 on errors and refusals.

Running updates. A webhook whose POST an update has sent, but whose answer has not yet reached its
state, looks like an orphan. So `--delete-orphans` refuses (exit 2, nothing deleted) while any stack
of the backend is locked (an update is running, or a killed one left its lock) or has pending
operations (a killed update's), and says which and why. It reads the locks and the states first,
then the webhook list; right before deleting it reads the locks and states again, refuses if a
stack became busy, and skips (and names) any orphan a stack now records. Lock blobs are read on
file:// and postgres:// backends (postgres needs `psql`) and Pulumi Cloud; on other backends
(s3://, ...) it refuses unless --no-lock-check. `--delete-orphans` shows what it would delete and
deletes only with `--yes`. A plain audit reports busy stacks and goes on.

Secrets. URLs that are secret in a state are shown as [secret], also on an orphan or duplicate
copy of them (a url equal, normalized, to a secret url of a state); the query string of any other
URL is masked unless --show-urls. By default states are read without decrypting secrets (no
passphrase needed beyond what `pulumi stack export` asks for): a secret url's value is then known
from the webhook a state owns at the API, and a webhook no stack owns that has the event type and
workflow of a secret url whose webhook is gone (a pending create, a dangling id) is shown as
[secret] too. With --show-urls the states are exported with --show-secrets (the stacks' secrets
provider must be available, e.g. PULUMI_CONFIG_PASSPHRASE), kept in memory only and never
written, so that every secret url of every state, also of pending operations and of webhooks gone
at the API, is masked wherever it appears.

    copyai-audit [--stack ORG/PROJECT/STACK ...] [--json] [--delete-orphans [--yes] [--no-lock-check]]
                 [--show-urls]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .client import CopyAIClient
from .errors import CopyAIError
from .model import Webhook, normalize_url
from .origin import Origin
from .settings import Settings
from .stacks import Backend, BackendError, read_backend

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class Refused(Exception):
    """Deleting orphans now could delete webhooks of a running or killed update."""


@dataclass
class Report:
    managed: list[dict[str, Any]] = field(default_factory=list)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    dangling: list[dict[str, Any]] = field(default_factory=list)
    #: recorded as registered at another API or workspace: not audited against this one
    elsewhere: list[dict[str, Any]] = field(default_factory=list)
    stacks: list[str] = field(default_factory=list)
    busy: dict[str, str] = field(default_factory=dict)  # stacks locked or with pending operations: why

    @property
    def findings(self) -> int:
        return len(self.orphans) + len(self.duplicates) + len(self.dangling)


def mask(url: str) -> str:
    """The URL with query values replaced by ***."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = urlencode([(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit(parts._replace(query=query))


def audit(hooks: list[Webhook], backend: Backend, show_urls: bool = False, origin: Origin | None = None) -> Report:
    """Compare the workspace's webhooks (at `origin`) with what the stacks of `backend` record."""
    report = Report(stacks=[s.name for s in backend.stacks], busy=backend.busy())
    secret_ids = {w.id for w in backend.webhooks() if w.secret_url and w.id}
    # A secret url's value: from the states when read with --show-secrets, else from the API's copy of a
    # webhook whose url a state marks secret. Any webhook with that url (an orphan, a duplicate) is masked too.
    secret_urls = backend.secret_urls() | {normalize_url(h.url) for h in hooks if h.id in secret_ids}

    at_api = {h.id for h in hooks}
    # A secret url whose value is unknown here (read without secrets, its webhook gone at the API: a pending create,
    # a dangling id): any webhook no stack owns with the same event type and workflow may be a copy of it.
    unknown = {(w.event_type, w.workflow_id or None) for w in backend.webhooks()
               if w.secret_url and w.url is None and (w.id is None or w.id not in at_api)}

    def shown(hook: Webhook) -> str:
        if hook.id in secret_ids or normalize_url(hook.url) in secret_urls:
            return "[secret]"
        if not backend.owners(hook.id) and (hook.event_type, hook.workflow_id or None) in unknown:
            return "[secret]"
        return hook.url if show_urls else mask(hook.url)

    def entry(hook: Webhook, **extra: Any) -> dict[str, Any]:
        return {"id": hook.id, "url": shown(hook), "eventType": hook.event_type, "workflowId": hook.workflow_id,
                **extra}

    for hook in hooks:
        owners = backend.owners(hook.id)
        if owners:
            for o in owners:
                report.managed.append(entry(hook, stack=o.stack, resource=o.name + (" (replaced)" if o.delete else "")))
        else:
            report.orphans.append(entry(hook))
    groups: dict[tuple[str, str, str | None], list[Webhook]] = defaultdict(list)
    for hook in hooks:
        groups[(normalize_url(hook.url), hook.event_type, hook.workflow_id or None)].append(hook)
    for same in groups.values():
        if len(same) > 1:
            report.duplicates.append({
                "url": shown(same[0]), "eventType": same[0].event_type, "workflowId": same[0].workflow_id,
                "webhooks": [{"id": h.id, "owners": [f"{o.stack}:{o.name}" for o in backend.owners(h.id)]}
                             for h in same],
            })
    for o in backend.webhooks():
        # a replaced resource's or a pending operation's record: the next update or copyai-recover settles it
        if o.id and o.id not in at_api and not o.delete and o.pending is None:
            if origin is not None and o.origin is not None and o.origin != origin:
                report.elsewhere.append({"id": o.id, "stack": o.stack, "resource": o.name,
                                         "api": o.origin.describe()})
            else:
                report.dangling.append({"id": o.id, "stack": o.stack, "resource": o.name})
    return report


def write_import_file(path: Path, hooks: list[Webhook], report: Report) -> int:
    """The orphans in `pulumi import --file` form; names never come from a url shown as secret."""
    from .lookup import import_names

    shown = {o["id"]: o["url"] for o in report.orphans}
    orphans = [h for h in hooks if h.id in shown]
    names = import_names(orphans, secret_ids={i for i, url in shown.items() if url == "[secret]"})
    resources = [{"type": "copyai:index:Webhook", "name": names[h.id], "id": h.id} for h in orphans]
    path.write_text(json.dumps({"resources": resources}, indent=2) + "\n")
    return len(resources)


def check_not_busy(backend: Backend, no_lock_check: bool = False) -> None:
    """Raise Refused when a stack is locked or has pending operations, or when the backend's locks
    cannot be read (unless `no_lock_check`)."""
    busy = backend.busy()
    if busy:
        lines = ["not deleting orphans: an update may be registering webhooks that look like orphans until its "
                 "answers reach its state. Busy stacks:"]
        lines += [f"  {name}: {why}" for name, why in busy.items()]
        if any(backend.locks.get(name) for name in busy):
            lines.append("A locked stack: wait for its update to end, then run the audit again. If the update was "
                         "killed (its process is gone), remove its lock with `pulumi cancel --yes --stack NAME`, "
                         "settle it with `copyai-recover --stack NAME`, then run the audit again.")
        if any(not backend.locks.get(name) for name in busy):
            lines.append("Pending operations (a killed update's): settle them with `copyai-recover --stack NAME` in "
                         "the stack's project, then run the audit again.")
        raise Refused("\n".join(lines))
    if not backend.locks_known and not no_lock_check:
        raise Refused(f"not deleting orphans: cannot tell whether an update is running ({backend.lock_error}). "
                      "When no update can be running, run it again with --no-lock-check.")


@dataclass
class Deletion:
    """What `delete_orphans` did: deleted ids, skipped ids with the records now holding them, and the
    API error that stopped it, if any."""

    deleted: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


def delete_orphans(client: CopyAIClient, orphans: list[str], reread: Callable[[], Backend],
                   no_lock_check: bool = False) -> Deletion:
    """Delete the orphans an audit found, after reading the locks and states again (`reread`):
    raises Refused if a stack became busy (nothing deleted); skips an orphan a stack records now."""
    backend = reread()
    check_not_busy(backend, no_lock_check)
    done = Deletion()
    for webhook_id in orphans:
        owners = backend.owners(webhook_id)
        if owners:
            done.skipped[webhook_id] = [f"{o.stack}:{o.name}" for o in owners]
            continue
        try:
            client.delete_webhook(webhook_id)
        except CopyAIError as exc:
            done.error = str(exc)
            break
        done.deleted.append(webhook_id)
    return done


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
    table("elsewhere: registered at another API or workspace, not audited here", report.elsewhere,
          ["stack", "resource", "id", "api"])
    if report.busy:
        lines.append("")
        lines.append(f"busy: locked or with pending operations ({len(report.busy)}); an update under way or killed "
                     "may own some of the orphans")
        lines += [f"  {name}: {why}" for name, why in report.busy.items()]
    lines.append("")
    if report.findings:
        lines.append("Next steps: an orphan nobody needs goes with `copyai-audit --delete-orphans --yes`; a dangling "
                     "webhook goes with `pulumi refresh` in its stack (then `pulumi up` registers it again); of a "
                     "duplicate, keep the one a stack owns and delete the rest (or remove the declaration from all "
                     "but one stack).")
    else:
        lines.append("No orphan, duplicate or dangling webhook.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="copyai-audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", action="append", default=[],
                        help="a stack to include (repeatable; default: every stack of the backend)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--import-file", metavar="FILE",
                        help="write the orphans as a `pulumi import --file FILE` file (type copyai:index:Webhook, a "
                             "readable unique name from the url's path and the event type, the id)")
    parser.add_argument("--show-urls", action="store_true",
                        help="show URLs' query strings; reads the states with `pulumi stack export --show-secrets` "
                             "(needs the stacks' secrets provider, e.g. PULUMI_CONFIG_PASSPHRASE; the plaintext stays "
                             "in memory) so that a URL secret in any state is never shown, on any copy of it")
    parser.add_argument("--delete-orphans", action="store_true",
                        help="delete the orphans (with --yes); refused while a stack is locked or has pending "
                             "operations")
    parser.add_argument("--yes", action="store_true", help="act on --delete-orphans instead of showing the plan")
    parser.add_argument("--no-lock-check", action="store_true",
                        help="with --delete-orphans on a backend whose locks this command cannot read (s3://, gs://, "
                             "azblob://): delete anyway; use only when no update can be running")
    parser.add_argument("--base-url", help="the API's base URL (default: COPYAI_BASE_URL, else Copy.ai's)")
    parser.add_argument("--api-key-env", default="COPYAI_API_KEY",
                        help="the environment variable holding the API key (default: COPYAI_API_KEY)")
    args = parser.parse_args(argv)

    def read(show_secrets: bool) -> Backend:
        try:
            return read_backend(args.stack or None, show_secrets=show_secrets)
        except BackendError as exc:
            print(f"copyai-audit: {exc}", file=sys.stderr)
            raise SystemExit(EXIT_ERROR) from None

    def refuse(exc: Refused, done: str = "nothing was deleted") -> NoReturn:
        print(f"copyai-audit: {exc}\n({done})", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)

    # The locks and states first, then the webhook list: a webhook an update registers after the states were
    # read is either in a locked stack's update (refused below or at the re-read) or in a state by the re-read.
    backend = read(args.show_urls)
    if args.delete_orphans:
        try:
            check_not_busy(backend, args.no_lock_check)
        except Refused as exc:
            refuse(exc)
    config = {"copyai:apiKey": os.environ.get(args.api_key_env), "copyai:baseUrl": args.base_url}
    settings = Settings.resolve(config)
    try:
        client = CopyAIClient(settings.api_key, settings.base_url, timeout=settings.timeout,
                              retry_window=min(settings.retry_window, 60.0))
        hooks = client.scan_webhooks().webhooks
    except CopyAIError as exc:
        print(f"copyai-audit: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR) from None
    report = audit(hooks, backend, show_urls=args.show_urls, origin=client.origin)

    print(json.dumps(asdict(report), indent=2) if args.json else render(report))
    if args.import_file:
        count = write_import_file(Path(args.import_file), hooks, report)
        print(f"\nWrote {count} orphan(s) to {args.import_file}: adopt them with `pulumi import --file "
              f"{args.import_file}` in the stack that should own them", file=sys.stderr)
    if args.delete_orphans and report.orphans:
        ids = [o["id"] for o in report.orphans]
        if not args.yes:
            print(f"\nWould delete {len(ids)} orphan(s): {' '.join(ids)}. Run again with --yes to delete them.",
                  file=sys.stderr)
        else:
            try:
                done = delete_orphans(client, ids, lambda: read(False), args.no_lock_check)
            except Refused as exc:
                refuse(exc)
            if done.skipped:
                names = "; ".join(f"{i} ({', '.join(owners)})" for i, owners in done.skipped.items())
                print(f"\nSkipped {len(done.skipped)} orphan(s) that a stack records now: {names}", file=sys.stderr)
            print(f"\nDeleted {len(done.deleted)} orphan(s)" + (f": {' '.join(done.deleted)}" if done.deleted else ""),
                  file=sys.stderr)
            if done.error:
                print(f"copyai-audit: {done.error}; run the audit again once the API answers", file=sys.stderr)
                raise SystemExit(EXIT_ERROR)
            report.orphans = []
    raise SystemExit(EXIT_FINDINGS if report.findings else EXIT_CLEAN)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
