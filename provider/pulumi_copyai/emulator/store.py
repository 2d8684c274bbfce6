"""SQLite persistence for the emulator: webhooks and workflow runs.

Every method is blocking (SQLite I/O under a lock): async code calls them through a thread pool
(`app.py` does, with `starlette.concurrency.run_in_threadpool`), never on the event loop.
"""

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
    workflow_id TEXT NOT NULL DEFAULT '',
    key_fingerprint TEXT NOT NULL DEFAULT ''
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

#: Columns added after the first release: table -> (name, definition), added to older database files on open.
_ADDED_COLUMNS = {
    "runs": (("credits", "REAL NOT NULL DEFAULT 0"),),
    "webhooks": (("key_fingerprint", "TEXT NOT NULL DEFAULT ''"),),
}

_RUN_FIELDS = "id, workflow_id, input, metadata, status, output, created_at, credits"
_WEBHOOK_FIELDS = "id, url, event_type, workflow_id, key_fingerprint"


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    event_type: str
    workflow_id: str  # "" when the webhook hears every workflow
    key_fingerprint: str = ""  # of the API key that registered it (origin.key_fingerprint); "" if unknown

    def to_api(self, empty_workflow: str | None = "") -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "eventType": self.event_type,
            "workflowId": self.workflow_id or empty_workflow,
        }


def new_run_id() -> str:
    """Copy.ai's run id shape: `WRUN-<uuid>`."""
    return f"WRUN-{uuid.uuid4()}"


class Store:
    """Thread-safe store; `path=None` keeps everything in memory."""

    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self._db.executescript(_SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, definition in columns:
                if name not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- webhooks ---------------------------------------------------------------------------
    def add_webhook(self, url: str, event_type: str, workflow_id: str, key_fingerprint: str = "") -> Webhook:
        hook = Webhook(uuid.uuid4().hex, url, event_type, workflow_id, key_fingerprint)
        with self._lock:
            self._db.execute(
                f"INSERT INTO webhooks ({_WEBHOOK_FIELDS}) VALUES (?, ?, ?, ?, ?)",
                (hook.id, hook.url, hook.event_type, hook.workflow_id, hook.key_fingerprint),
            )
        return hook

    def get_webhook(self, webhook_id: str) -> Webhook | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_WEBHOOK_FIELDS} FROM webhooks WHERE id = ?", (webhook_id,)
            ).fetchone()
        return Webhook(*row) if row else None

    def list_webhooks(self, page: int, size: int) -> tuple[int, list[Webhook]]:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM webhooks").fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_WEBHOOK_FIELDS} FROM webhooks ORDER BY seq LIMIT ? OFFSET ?",
                (size, page * size),
            ).fetchall()
        return total, [Webhook(*r) for r in rows]

    def webhooks_for(self, event_type: str, workflow_id: str | None) -> list[Webhook]:
        """Webhooks of `event_type` hearing `workflow_id` (theirs or every workflow); None: all of that type."""
        query = f"SELECT {_WEBHOOK_FIELDS} FROM webhooks WHERE event_type = ?"
        params: tuple[str, ...] = (event_type,)
        if workflow_id is not None:
            query += " AND (workflow_id = '' OR workflow_id = ?)"
            params += (workflow_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", params).fetchall()
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
    def add_run(
        self, workflow_id: str, start_variables: dict[str, Any], metadata: dict[str, Any] | None, credits: float
    ) -> dict[str, Any]:
        """Record a run in PROCESSING and return it in its API shape. `metadata=None`: none was given."""
        run_id = new_run_id()
        created = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        row = (run_id, workflow_id, json.dumps(start_variables), json.dumps(metadata), "PROCESSING", "null",
               created, credits)
        with self._lock:
            self._db.execute(f"INSERT INTO runs ({_RUN_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        return _run_to_api(row)

    def finish_run(self, run_id: str, status: str, output: dict[str, Any] | None) -> None:
        """Set the final status; `output=None`: the run produced none (its answer then has no `output`)."""
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status = ?, output = ? WHERE id = ?", (status, json.dumps(output), run_id)
            )

    def get_run(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_RUN_FIELDS} FROM runs WHERE workflow_id = ? AND id = ?", (workflow_id, run_id)
            ).fetchone()
        return _run_to_api(row) if row else None

    def list_runs(self, workflow_id: str, page: int = 0, size: int = 10) -> tuple[int, list[dict[str, Any]]]:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM runs WHERE workflow_id = ?", (workflow_id,)).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_RUN_FIELDS} FROM runs WHERE workflow_id = ? ORDER BY seq LIMIT ? OFFSET ?",
                (workflow_id, size, page * size),
            ).fetchall()
        return total, [_run_to_api(r) for r in rows]

    def recent_runs(self, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """(how many runs there are, the newest `limit` of every workflow, newest first)."""
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            rows = self._db.execute(f"SELECT {_RUN_FIELDS} FROM runs ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return total, [_run_to_api(r) for r in rows]


def _run_to_api(row: tuple[Any, ...]) -> dict[str, Any]:
    """A run as GET /workflow/{id}/run/{run_id} shows it: `metadata` and `output` only when there are any."""
    run_id, workflow_id, input_, metadata, status, output, created, credits = row
    run: dict[str, Any] = {
        "id": run_id,
        "workflowRunId": run_id,
        "workflowId": workflow_id,
        "input": json.loads(input_),
        "status": status,
        "createdAt": created,
        "credits": int(credits) if float(credits).is_integer() else credits,
    }
    if json.loads(metadata) is not None:
        run["metadata"] = json.loads(metadata)
    if json.loads(output) is not None:
        run["output"] = json.loads(output)
    return run
