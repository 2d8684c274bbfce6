"""The registration journal: on this machine, a record of each create a provider process sends.

A killed `pulumi up` leaves pending creates in the state, and whether their POSTs were applied is
unknown. `copyai-recover` removes a webhook only when it can attribute it to the killed run; the
journal is that evidence: for each create, the ids of the look-alike webhooks that existed before
its first POST (from the process's views, see `ownership`), then how it settled.

Where: `$COPYAI_JOURNAL_DIR`, else `$PULUMI_HOME/copyai/journal` (PULUMI_HOME defaults to
~/.pulumi), then one folder per workspace, named by a digest of the base URL and API key (the key
itself never reaches the disk), and one file per provider process. A url is recorded as a digest
of its normalized form, never in clear. Lines, JSON:

    {"entry": "<pid>-<n>", "posted": <unix time>, "urn": <urn or null>,
     "key": {"url": <sha256>, "eventType": ..., "workflowId": ...}, "existing": [<ids>]}
    {"entry": "<pid>-<n>", "settled": "registered" | "adopted" | "not_registered" | "failed" |
     "recovered", "webhook": <id or null>}

Files are pruned when a process first writes: those whose creates all settled over an hour ago,
and any older than 30 days. A journal that cannot be written costs only the evidence: the
provider carries on, and `copyai-recover` then leaves unattributable webhooks alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .model import normalize_url

SETTLED_KEEP_SECONDS = 3600.0
MAX_AGE_SECONDS = 30 * 86400.0


def journal_root(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("COPYAI_JOURNAL_DIR"):
        return Path(env["COPYAI_JOURNAL_DIR"])
    home = Path(env["PULUMI_HOME"]) if env.get("PULUMI_HOME") else Path.home() / ".pulumi"
    return home / "copyai" / "journal"


def workspace_digest(base_url: str, api_key: str) -> str:
    """A folder name for one workspace: a digest of base URL and key (neither recoverable from it)."""
    return hashlib.sha256(f"pulumi-copyai\0{base_url.rstrip('/')}\0{api_key}".encode()).hexdigest()[:24]


def url_digest(url: str) -> str:
    return hashlib.sha256(normalize_url(url).encode()).hexdigest()


def key_record(url: str, event_type: str, workflow_id: str | None) -> dict[str, Any]:
    return {"url": url_digest(url), "eventType": event_type, "workflowId": workflow_id or None}


@dataclass
class Entry:
    """One create as the journal recorded it."""

    entry: str
    posted: float
    urn: str | None
    key: dict[str, Any]
    existing: list[str]
    settled: str | None = None
    webhook: str | None = None
    path: Path | None = field(default=None, compare=False)


class Journal:
    """The journal of one workspace, written by this process (thread-safe)."""

    def __init__(self, base_url: str, api_key: str, root: Path | None = None) -> None:
        self.folder = (root or journal_root()) / workspace_digest(base_url, api_key)
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._failed = False
        self._count = 0

    def posting(self, url: str, event_type: str, workflow_id: str | None, existing: list[str],
                urn: str | None = None) -> str | None:
        """Record a create about to send its first POST; its entry name, or None if not recorded."""
        with self._lock:
            self._count += 1
            name = f"{os.getpid()}-{self._count}"
        ok = self._write({"entry": name, "posted": time.time(), "urn": urn,
                          "key": key_record(url, event_type, workflow_id), "existing": sorted(existing)})
        return name if ok else None

    def settled(self, entry: str | None, how: str, webhook_id: str | None = None) -> None:
        if entry is not None:
            self._write({"entry": entry, "settled": how, "webhook": webhook_id})

    def _write(self, record: dict[str, Any]) -> bool:
        with self._lock:
            if self._failed:
                return False
            try:
                if self._file is None:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    prune(self.folder)
                    path = self.folder / f"{int(time.time())}-{os.getpid()}-{id(self):x}.jsonl"
                    self._file = path.open("a", encoding="utf-8")
                self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
                self._file.flush()  # in the kernel: a killed process loses nothing
                return True
            except OSError:
                self._failed = True
                return False

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read(folder: Path) -> list[Entry]:
    """Every entry of a workspace's journal folder, with how it settled (None: never settled)."""
    entries: dict[tuple[Path, str], Entry] = {}
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        for record in _records(path):
            name = record.get("entry")
            if not isinstance(name, str):
                continue
            if "posted" in record:
                entries[(path, name)] = Entry(name, float(record.get("posted") or 0), record.get("urn"),
                                              dict(record.get("key") or {}), list(record.get("existing") or []),
                                              path=path)
            elif (path, name) in entries:
                entries[(path, name)].settled = record.get("settled")
                entries[(path, name)].webhook = record.get("webhook")
    return list(entries.values())


def mark_recovered(entries: list[Entry]) -> None:
    """Settle entries on behalf of `copyai-recover` (appended to the files they came from)."""
    for entry in entries:
        if entry.path is not None:
            with entry.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"entry": entry.entry, "settled": "recovered", "webhook": entry.webhook}) + "\n")


def prune(folder: Path, now: float | None = None) -> None:
    """Remove files whose creates all settled over an hour ago, and files older than 30 days."""
    now = time.time() if now is None else now
    for path in folder.glob("*.jsonl"):
        try:
            age = now - path.stat().st_mtime
            if age > MAX_AGE_SECONDS or (age > SETTLED_KEEP_SECONDS and _all_settled(path)):
                path.unlink()
        except OSError:
            continue


def _all_settled(path: Path) -> bool:
    posted: set[Any] = set()
    settled: set[Any] = set()
    for record in _records(path):
        (posted if "posted" in record else settled).add(record.get("entry"))
    return posted <= settled


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(record, dict):
            yield record
