"""SQLite persistence for the emulator: webhooks and workflow runs."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    url TEXT NOT NULL,
    event_type TEXT NOT NULL,
    workflow_id TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    workflow_id TEXT NOT NULL,
    input TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL,
    output TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    event_type: str
    workflow_id: str  # "" when the webhook hears every workflow

    def to_api(self, empty_workflow: str | None = "") -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "eventType": self.event_type,
            "workflowId": self.workflow_id or empty_workflow,
        }


class Store:
    """Thread-safe store; `path=None` keeps everything in memory."""

    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- webhooks ---------------------------------------------------------------------------
    def add_webhook(self, url: str, event_type: str, workflow_id: str) -> Webhook:
        hook = Webhook(uuid.uuid4().hex, url, event_type, workflow_id)
        with self._lock:
            self._db.execute(
                "INSERT INTO webhooks (id, url, event_type, workflow_id) VALUES (?, ?, ?, ?)",
                (hook.id, hook.url, hook.event_type, hook.workflow_id),
            )
        return hook

    def get_webhook(self, webhook_id: str) -> Webhook | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, url, event_type, workflow_id FROM webhooks WHERE id = ?", (webhook_id,)
            ).fetchone()
        return Webhook(*row) if row else None

    def list_webhooks(self, page: int, size: int) -> tuple[int, list[Webhook]]:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM webhooks").fetchone()[0]
            rows = self._db.execute(
                "SELECT id, url, event_type, workflow_id FROM webhooks ORDER BY seq LIMIT ? OFFSET ?",
                (size, page * size),
            ).fetchall()
        return total, [Webhook(*r) for r in rows]

    def webhooks_for(self, event_type: str, workflow_id: str) -> list[Webhook]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, url, event_type, workflow_id FROM webhooks"
                " WHERE event_type = ? AND (workflow_id = '' OR workflow_id = ?) ORDER BY seq",
                (event_type, workflow_id),
            ).fetchall()
        return [Webhook(*r) for r in rows]

    def delete_webhook(self, webhook_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
        return cur.rowcount > 0

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM webhooks")
            self._db.execute("DELETE FROM runs")

    # -- workflow runs ----------------------------------------------------------------------
    def add_run(self, workflow_id: str, start_variables: dict[str, Any], metadata: dict[str, Any]) -> str:
        run_id = uuid.uuid4().hex
        created = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self._lock:
            self._db.execute(
                "INSERT INTO runs (id, workflow_id, input, metadata, status, output, created_at)"
                " VALUES (?, ?, ?, ?, 'PROCESSING', '{}', ?)",
                (run_id, workflow_id, json.dumps(start_variables), json.dumps(metadata), created),
            )
        return run_id

    def finish_run(self, run_id: str, status: str, output: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status = ?, output = ? WHERE id = ?", (status, json.dumps(output), run_id)
            )

    def get_run(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, input, metadata, status, output, created_at FROM runs WHERE workflow_id = ? AND id = ?",
                (workflow_id, run_id),
            ).fetchone()
        return _run_to_api(row) if row else None

    def list_runs(self, workflow_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, input, metadata, status, output, created_at FROM runs WHERE workflow_id = ? ORDER BY seq",
                (workflow_id,),
            ).fetchall()
        return [_run_to_api(r) for r in rows]


def _run_to_api(row: tuple[Any, ...]) -> dict[str, Any]:
    run_id, input_, metadata, status, output, created = row
    return {
        "id": run_id,
        "input": json.loads(input_),
        "metadata": json.loads(metadata),
        "status": status,
        "output": json.loads(output),
        "createdAt": created,
    }
