"""The stacks of a Pulumi backend as the Copy.ai commands see them: which webhooks each records, its
pending operations, and whether it is locked. Read through the `pulumi` CLI, never the program.

    backend = read_backend()              # every stack of the current backend (or read_backend(["dev"]))
    backend.owned_ids()                   # the webhook ids any stack records
    backend.owners(webhook_id)            # who records one id: [Recorded(stack, name, urn, ...)]
    backend.busy()                        # {stack: why}: locked, or with pending operations

The states come from `pulumi stack ls --all --json -Q` and `pulumi stack export --stack NAME`, which
take no lock and run no program. Secrets stay encrypted (no passphrase needed) unless
`show_secrets=True`, which exports with `--show-secrets`: the plaintext is kept in memory only
(`Recorded.url`, `Backend.secret_urls()`), never written anywhere.

Locks. The CLI reports an update in progress (`updateInProgress`) only for Pulumi Cloud; for DIY
backends `stack ls --json` says nothing (v3.274.1: `SupportsProgress()` is false), so their lock
blobs are read directly. A DIY backend locks a stack by writing the blob
`.pulumi/locks/<org>/<project>/<stack>/<uuid>.json` (`{pid, username, hostname, timestamp}`) for
the whole update (also refresh, destroy, import, rename, rm) and deletes it at the end; a killed
update leaves it until `pulumi cancel`. Read here:

- file://: the files under `<dir>/.pulumi/locks/` (the `.attrs` sidecars aside);
- postgres://: the rows of the backend's table (`pulumi_state`, or the URL's `table=`) whose key
  starts with `<database>/.pulumi/locks/` (the CLI prefixes every key with the URL's path),
  through `psql` (libpq reads the same URL and PG* variables as the CLI's driver; `data` is
  `{"data": <base64 of the blob>}`);
- Pulumi Cloud (http(s)://): `updateInProgress` of `stack ls`;
- other DIY backends (s3://, gs://, azblob://): not read; `Backend.locks_known` is False and
  `Backend.lock_error` says why.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .model import normalize_url
from .origin import Origin

#: The resource types of a Copy.ai webhook: the dynamic provider's and the plugin's.
TYPES = ("pulumi-python:dynamic/copyai:CopyAIWebhook", "copyai:index:Webhook")
#: The key that marks a secret value in an exported deployment.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
#: Where a DIY backend keeps its lock blobs.
LOCK_PREFIX = ".pulumi/locks/"
#: The `Lock.key` of a Pulumi Cloud stack whose `stack ls` says `updateInProgress`.
CLOUD_LOCK = "updateInProgress"
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")


class BackendError(RuntimeError):
    """A `pulumi` command failed, or its output could not be read."""


@dataclass(frozen=True)
class Recorded:
    """A Copy.ai webhook as a stack's state records it.

    `id` is None for a pending create (the POST was sent, its answer never reached the state).
    `url` is the plaintext url, or None when it is secret and the state was read without
    `show_secrets`. `delete` marks a replaced resource the engine has yet to delete: it still owns
    its webhook.
    """

    stack: str
    name: str
    urn: str
    type: str
    id: str | None
    url: str | None
    secret_url: bool
    event_type: str | None = None
    workflow_id: str | None = None  # None: every workflow
    delete: bool = False
    pending: str | None = None  # the pending operation's type ("creating", ...) for one read from there
    origin: Origin | None = None  # the API that registered it (None in states written before origins)


@dataclass(frozen=True)
class PendingOp:
    """An operation an update started and never finished (the update was killed or lost)."""

    type: str  # "creating", "updating", "deleting", "reading", ...
    urn: str
    copyai: bool  # on a Copy.ai webhook


@dataclass(frozen=True)
class Lock:
    """A stack's lock blob: who holds it. Fields are None when the blob could not be parsed."""

    stack: str
    key: str
    pid: int | None = None
    username: str | None = None
    hostname: str | None = None
    timestamp: str | None = None

    def describe(self) -> str:
        if self.key == CLOUD_LOCK:
            return "an update is in progress"
        who = f"{self.username or '?'}@{self.hostname or '?'} (pid {self.pid if self.pid is not None else '?'})"
        return f"locked by {who} since {self.timestamp or '?'}"


@dataclass(frozen=True)
class Stack:
    """One stack: the webhooks it records, its pending operations, its locks."""

    name: str  # fully qualified: organization/project/stack (a DIY backend's legacy stacks: the bare name)
    webhooks: tuple[Recorded, ...] = ()
    pending: tuple[PendingOp, ...] = ()
    locks: tuple[Lock, ...] = ()

    @property
    def locked(self) -> bool:
        return bool(self.locks)


@dataclass(frozen=True)
class Backend:
    """The stacks read from one backend, and the locks of all its stacks.

    `locks` holds every locked stack of the backend, also those not among `stacks` (when only some
    were named). `locks_known` is False when this kind of backend's locks cannot be read
    (`lock_error` says why): then `busy()` cannot vouch that no update runs.
    """

    url: str  # redacted: no password
    kind: str  # "file", "postgres", "cloud" or the URL's scheme
    stacks: tuple[Stack, ...] = ()
    locks: Mapping[str, tuple[Lock, ...]] = field(default_factory=dict)
    locks_known: bool = True
    lock_error: str | None = None
    secrets_read: bool = False  # read with show_secrets: secret urls' plaintext is known

    def stack(self, name: str) -> Stack | None:
        return next((s for s in self.stacks if s.name == name), None)

    def webhooks(self) -> list[Recorded]:
        """Every webhook record of every stack read (pending creates included)."""
        return [w for s in self.stacks for w in s.webhooks]

    def owned_ids(self, clearing: Collection[str] = ()) -> set[str]:
        """The ids of the webhooks that any stack read records (resources marked for deletion and
        pending operations included), except the pending creates of the URNs in `clearing` (those a
        recovery is about to clear: their ids record nothing once it has)."""
        return {w.id for w in self.webhooks() if w.id and not (w.pending == "creating" and w.urn in clearing)}

    def owners(self, webhook_id: str) -> list[Recorded]:
        """The records of one webhook id (more than one: declared in several stacks, or replaced)."""
        return [w for w in self.webhooks() if w.id == webhook_id]

    def secret_urls(self) -> set[str]:
        """The secret urls of every state, normalized (`model.normalize_url`). Empty unless read
        with `show_secrets`."""
        return {normalize_url(w.url) for w in self.webhooks() if w.secret_url and w.url}

    def busy(self) -> dict[str, str]:
        """The stacks that an update may be writing, or that a killed update left unsettled:
        {stack name: why}. Locked stacks of the whole backend, and the stacks read that have
        pending operations."""
        why: dict[str, list[str]] = {}
        for name, locks in self.locks.items():
            if locks:
                why.setdefault(name, []).append("; ".join(lock.describe() for lock in locks))
        for stack in self.stacks:
            if stack.pending:
                shown = ", ".join(f"{op.type} {op.urn.rsplit('::', 1)[-1]}" for op in stack.pending[:5])
                more = ", ..." if len(stack.pending) > 5 else ""
                why.setdefault(stack.name, []).append(
                    f"{len(stack.pending)} pending operation(s) ({shown}{more})")
        return {name: "; ".join(reasons) for name, reasons in sorted(why.items())}


# -- reading a deployment ---------------------------------------------------------------------------

def reveal(value: Any) -> tuple[Any, bool]:
    """(the plain value, whether it was secret) of a value of `pulumi stack export`. An encrypted
    secret (exported without --show-secrets) gives None."""
    if isinstance(value, Mapping) and SECRET_SIG in value:
        if "plaintext" in value:
            try:
                return json.loads(value["plaintext"]), True
            except (TypeError, ValueError):
                return None, True
        return None, True
    return value, False


def recorded_in(stack: str, deployment: Mapping[str, Any]) -> tuple[list[Recorded], list[PendingOp]]:
    """The Copy.ai webhooks a deployment records (resources, also those marked `delete`, and
    resources of pending operations) and its pending operations."""
    found: list[Recorded] = []

    def record(res: Mapping[str, Any], pending: str | None) -> None:
        if res.get("type") not in TYPES:
            return
        if pending and res.get("id") and any(w.urn == res.get("urn") and w.id == res["id"] for w in found):
            return  # an update or delete of a resource recorded already
        sources = (res.get("outputs") or {}, res.get("inputs") or {})

        def value(*names: str) -> tuple[Any, bool]:
            """The first plain value of one of `names`, and whether any of them is secret."""
            plain_found: Any = None
            secret = False
            for source in sources:
                for name in names:
                    if name in source:
                        plain, is_secret = reveal(source[name])
                        secret = secret or is_secret
                        if plain_found is None and plain not in (None, ""):
                            plain_found = plain
            return plain_found, secret

        url, secret_url = value("url")
        event_type, _ = value("event_type", "eventType")
        workflow_id, _ = value("workflow_id", "workflowId")
        base_url, _ = value("api_base_url", "apiBaseUrl")
        fingerprint, _ = value("api_key_fingerprint", "apiKeyFingerprint")
        origin = Origin.recorded({"api_base_url": base_url, "api_key_fingerprint": fingerprint})
        urn = str(res.get("urn") or "")
        found.append(Recorded(
            stack, urn.rsplit("::", 1)[-1], urn, str(res["type"]), str(res["id"]) if res.get("id") else None,
            url if isinstance(url, str) else None, secret_url,
            event_type if isinstance(event_type, str) else None, workflow_id if isinstance(workflow_id, str) else None,
            bool(res.get("delete")), pending, origin))

    for res in deployment.get("resources") or []:
        record(res, None)
    ops: list[PendingOp] = []
    for op in deployment.get("pending_operations") or []:
        res = op.get("resource") or {}
        ops.append(PendingOp(str(op.get("type") or "?"), str(res.get("urn") or "?"), res.get("type") in TYPES))
        record(res, str(op.get("type") or "?"))
    return found, ops


# -- the pulumi CLI -----------------------------------------------------------------------------------

def _pulumi(args: Sequence[str], cwd: str | Path | None, env: Mapping[str, str] | None) -> str:
    done = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=cwd, env=None if env is None else dict(env),
                          text=True, capture_output=True, check=False)
    if done.returncode != 0:
        raise BackendError(f"`pulumi {' '.join(args)}` failed:\n{(done.stderr or done.stdout).strip()}")
    return done.stdout


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError as exc:
        raise BackendError(f"{what}: not JSON ({exc})") from None


def redact(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:****@{host}"))


def read_backend(stacks: Sequence[str] | None = None, cwd: str | Path | None = None,
                 env: Mapping[str, str] | None = None, *, show_secrets: bool = False) -> Backend:
    """Read the current backend (`pulumi whoami`, as `pulumi` sees it from `cwd` with `env`).

    `stacks`: the stacks to read (any name `--stack` takes; in a project directory a bare stack
    name is the project's); None: every stack of the backend. Locks are read first, then the
    states, so that an update that released its lock before the locks were read has its result in
    the states. `show_secrets`: export with `--show-secrets` (the secrets provider must be
    available, e.g. PULUMI_CONFIG_PASSPHRASE), keeping plaintext in memory only.
    Raises BackendError when a `pulumi` command fails.
    """
    url = str((_json(_pulumi(["whoami", "--json"], cwd, env), "pulumi whoami") or {}).get("url") or "")
    listed = _json(_pulumi(["stack", "ls", "--all", "--json", "-Q"], cwd, env), "pulumi stack ls") or []
    scheme = urlsplit(url).scheme.lower()
    kind = {"file": "file", "postgres": "postgres", "postgresql": "postgres", "http": "cloud",
            "https": "cloud"}.get(scheme, scheme or "unknown")
    locks: dict[str, tuple[Lock, ...]] = {}
    lock_error: str | None = None
    try:
        if kind == "file":
            locks = _file_locks(url, cwd)
        elif kind == "postgres":
            locks = _postgres_locks(url, env)
        elif kind == "cloud":
            locks = {str(s["name"]): (Lock(str(s["name"]), CLOUD_LOCK),) for s in listed
                     if s.get("updateInProgress")}
        else:
            lock_error = f"copyai-audit cannot read the locks of a {scheme}:// backend"
    except BackendError as exc:
        lock_error = str(exc)
    if stacks:
        names = [_pulumi(["stack", "--stack", name, "--show-name", "-Q"], cwd, env).strip() for name in stacks]
    else:
        names = [str(s["name"]) for s in listed]
    read: list[Stack] = []
    for name in dict.fromkeys(names):
        args = ["stack", "export", "--stack", name] + (["--show-secrets"] if show_secrets else [])
        deployment = (_json(_pulumi(args, cwd, env), f"pulumi stack export --stack {name}") or {}).get("deployment")
        webhooks, pending = recorded_in(name, deployment or {})
        read.append(Stack(name, tuple(webhooks), tuple(pending), locks.get(name, ())))
    return Backend(redact(url), kind, tuple(read), locks, lock_error is None, lock_error, show_secrets)


# -- lock blobs -----------------------------------------------------------------------------------------

def _lock(key: str, blob: bytes | None) -> Lock:
    stack = key[len(LOCK_PREFIX):].rsplit("/", 1)[0]
    try:
        data = json.loads(blob or b"")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return Lock(stack, key)
    pid = data.get("pid")
    return Lock(stack, key, pid if isinstance(pid, int) else None, _str(data.get("username")),
                _str(data.get("hostname")), _str(data.get("timestamp")))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _group(found: Iterable[Lock]) -> dict[str, tuple[Lock, ...]]:
    grouped: dict[str, list[Lock]] = {}
    for lock in found:
        grouped.setdefault(lock.stack, []).append(lock)
    return {name: tuple(sorted(items, key=lambda lock: lock.key)) for name, items in grouped.items()}


def file_backend_dir(url: str, cwd: str | Path | None = None) -> Path:
    """The directory of a file:// backend URL, resolved as the CLI does (`~`, relative paths)."""
    path = unquote(url[len("file://"):].split("?", 1)[0])
    if path == "~" or path.startswith("~/"):
        path = str(Path.home()) + path[1:]
    return (Path(cwd) if cwd is not None else Path.cwd()) / path


def _file_locks(url: str, cwd: str | Path | None) -> dict[str, tuple[Lock, ...]]:
    root = file_backend_dir(url, cwd) / LOCK_PREFIX
    found = []
    try:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.endswith(".attrs"):
                try:
                    blob: bytes | None = path.read_bytes()
                except FileNotFoundError:  # released meanwhile
                    continue
                found.append(_lock(path.relative_to(root.parent.parent).as_posix(), blob))
    except OSError as exc:
        raise BackendError(f"cannot read the lock directory {root}: {exc}") from None
    return _group(found)


def _postgres_locks(url: str, env: Mapping[str, str] | None) -> dict[str, tuple[Lock, ...]]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    table = next((v for k, v in query if k == "table"), "") or "pulumi_state"
    if not _TABLE.fullmatch(table):
        raise BackendError(f"the backend's table name {table!r} is not a plain identifier")
    conninfo = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "table"])))
    psql = shutil.which("psql", path=(env or os.environ).get("PATH"))
    if psql is None:
        raise BackendError("reading a postgres:// backend's locks needs `psql` (Debian: postgresql-client) on PATH")
    # The CLI keeps every key under the URL's path (the database name) as a prefix: "<db>/.pulumi/locks/...".
    prefix = unquote(parts.path).lstrip("/")
    prefix = f"{prefix}/" if prefix else ""
    pattern = "".join("\\" + c if c in "\\%_" else c for c in prefix + LOCK_PREFIX).replace("'", "''")
    sql = f"SELECT key, data->>'data' FROM {table} WHERE key LIKE '{pattern}%' ESCAPE '\\' ORDER BY key"
    run_env = dict(env if env is not None else os.environ)
    run_env.setdefault("PGCONNECT_TIMEOUT", "10")
    done = subprocess.run([psql, "-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-d", conninfo,
                           "-c", sql], env=run_env, text=True, capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        message = done.stderr.strip().replace(url, redact(url))
        raise BackendError(f"cannot read the locks in table {table} of {redact(url)}: {message}")
    found = []
    for line in done.stdout.splitlines():
        key, _, data = line.partition("\t")
        key = key[len(prefix):]
        if not key.startswith(LOCK_PREFIX):
            continue
        try:
            blob: bytes | None = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            blob = None
        found.append(_lock(key, blob))
    return _group(found)


__all__ = ["CLOUD_LOCK", "LOCK_PREFIX", "SECRET_SIG", "TYPES", "Backend", "BackendError", "Lock", "PendingOp",
           "Recorded", "Stack", "file_backend_dir", "read_backend", "recorded_in", "redact", "reveal"]
