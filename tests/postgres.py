"""A throwaway PostgreSQL 15 server for tests of Pulumi's PostgreSQL state backend.

``PostgresServer`` runs ``initdb`` in a fresh temporary directory and starts ``postgres`` on 127.0.0.1 at a free
port, with its unix socket inside that directory (nothing in /var/run/postgresql), trust authentication for
loopback and fsync off. It creates the role ``pulumi`` and the database ``state`` owned by it (``pulumi`` is not a
superuser, as a team's state role would not be). The postmaster is this process's child (not daemonized by pg_ctl),
so ``stop()`` can reap it: it stops the server with ``pg_ctl stop -m immediate``, makes sure the postmaster is gone
and removes the directory. As root, initdb/pg_ctl/postgres run as the ``postgres`` OS user (initdb refuses root)
through ``runuser``; otherwise they run as the current user.

The binaries come from ``scripts/ensure-postgres.sh``, which installs Debian's server package when they are
missing; when it fails the fixture fails the test with its message: it never skips.

Use from a test module (no conftest needed); the fixtures are named ``postgres`` and ``postgres_backend_url``, the
functions carry a ``_fixture`` suffix so that a test's parameter does not shadow the import (ruff F811)::

    from tests.postgres import PostgresServer, postgres_backend_url_fixture, postgres_fixture  # noqa: F401

    def test_x(postgres: PostgresServer, postgres_backend_url: str) -> None:
        env = {"PULUMI_BACKEND_URL": postgres_backend_url, ...}

``postgres`` is session-scoped: one server per module that imports it, kept until the session ends (import it in
tests/conftest.py instead to share one server among all modules). ``postgres.backend_url`` is the ``state``
database's URL; ``postgres.create_database()`` makes another database and returns its URL. ``postgres_backend_url``
(function scope) is a database of the test's own, dropped afterwards: separate state for each test.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from types import TracebackType

import pytest

REPO = Path(__file__).resolve().parent.parent
ENSURE_SCRIPT = REPO / "scripts" / "ensure-postgres.sh"
HOST = "127.0.0.1"
SUPERUSER = "postgres"
SERVER_USER = "postgres"  # the OS user that owns the cluster when we run as root


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing and could not be installed."""


class PostgresError(RuntimeError):
    """A PostgreSQL command failed (initdb, pg_ctl, psql)."""


def find_bin_dir() -> Path:
    """The directory of initdb, pg_ctl and postgres, installing them with scripts/ensure-postgres.sh if need be."""
    try:
        done = subprocess.run(["bash", str(ENSURE_SCRIPT)], capture_output=True, text=True, check=False, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise PostgresUnavailable(f"{ENSURE_SCRIPT} could not run: {err}") from err
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise PostgresUnavailable(
            f"PostgreSQL server binaries are not available ({ENSURE_SCRIPT} exited {done.returncode}):\n"
            f"{done.stderr.strip()}"
        )
    return Path(lines[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is as good as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _world_traversable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


class PostgresServer:
    """A PostgreSQL server of its own in a temporary directory; a context manager (``with PostgresServer() as pg``)."""

    def __init__(self, user: str = "pulumi", database: str = "state", bin_dir: Path | None = None) -> None:
        self.user = user
        self.database = database
        self._bin_dir = bin_dir
        self.port = 0
        self.base_dir: Path | None = None
        self.pid: int | None = None
        self._as_root = os.geteuid() == 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._db_counter = count(1)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> PostgresServer:
        if self.base_dir is not None:
            raise PostgresError("the server is already started")
        bin_dir = self._bin_dir or find_bin_dir()
        self._bin_dir = bin_dir
        parent = Path(tempfile.gettempdir())
        if self._as_root and not _world_traversable(parent):
            parent = Path("/tmp")
        self.base_dir = Path(tempfile.mkdtemp(prefix="pulumi-pg-", dir=parent))
        atexit.register(self.stop)
        try:
            self._init_cluster()
            self._start_server()
            self._psql(f'CREATE ROLE "{self.user}" LOGIN', database="postgres", user=SUPERUSER)
            self.create_database(self.database)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (immediate mode) and remove its directory. Safe to call more than once."""
        atexit.unregister(self.stop)
        base, self.base_dir = self.base_dir, None
        if base is None:
            return
        data = base / "data"
        pid = self.pid or self._read_pid(data)
        if pid is not None and pid_alive(pid):
            self._server_cmd("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop", check=False,
                             cwd=base)
            deadline = time.monotonic() + 10
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self._proc is not None:  # reap it (and runuser), so that no zombie is left behind
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        self.pid = None
        shutil.rmtree(base, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- URLs and databases -----------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        if self.base_dir is None:
            raise PostgresError("the server is not running")
        return self.base_dir / "data"

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            raise PostgresError("the server has not been started")
        return self._bin_dir

    def url_for(self, database: str) -> str:
        """The Pulumi DIY backend URL of one database (lib/pq connection URL; Pulumi reads `table=` too)."""
        return f"postgres://{self.user}@{HOST}:{self.port}/{database}?sslmode=disable"

    @property
    def backend_url(self) -> str:
        return self.url_for(self.database)

    def create_database(self, name: str | None = None) -> str:
        """Create a database owned by the Pulumi role (a fresh name unless given); return its backend URL."""
        name = name or f"state_{next(self._db_counter)}"
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: use letters, digits and underscores")
        self._psql(f'CREATE DATABASE "{name}" OWNER "{self.user}"', database="postgres", user=SUPERUSER)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', database="postgres", user=SUPERUSER)

    def psql(self, sql: str, database: str | None = None, user: str | None = None) -> str:
        """Run SQL with psql over TCP (as the Pulumi role by default); return the unaligned, tuples-only output."""
        return self._psql(sql, database=database or self.database, user=user or self.user)

    # -- internals --------------------------------------------------------------------------
    def _psql(self, sql: str, database: str, user: str) -> str:
        psql = self.bin_dir / "psql"
        exe = str(psql) if psql.exists() else (shutil.which("psql") or "psql")
        args = [exe, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p", str(self.port),
                "-U", user, "-d", database, "-c", sql]
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=60,
                              env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
        if done.returncode != 0:
            raise PostgresError(f"psql {sql!r} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout.strip()

    def _as_server_user(self, cmd: list[str]) -> list[str]:
        if not self._as_root:
            return cmd
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", SERVER_USER, "--", *cmd]
        return ["su", SERVER_USER, "-s", "/bin/sh", "-c", "exec " + shlex.join(cmd)]

    def _server_cmd(
        self, program: str, *args: str, check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = self._as_server_user([str(self.bin_dir / program), *args])
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120, cwd=cwd or self.base_dir)
        if check and done.returncode != 0:
            raise PostgresError(f"{program} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done

    def _init_cluster(self) -> None:
        assert self.base_dir is not None
        if self._as_root:
            try:
                owner = pwd.getpwnam(SERVER_USER)
            except KeyError as err:
                raise PostgresUnavailable(
                    f"running as root, and there is no {SERVER_USER!r} OS user to run PostgreSQL as "
                    "(initdb refuses root); Debian's postgresql package creates it"
                ) from err
            os.chown(self.base_dir, owner.pw_uid, owner.pw_gid)
        os.chmod(self.base_dir, 0o700)
        self._server_cmd("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                         "--locale=C", "--no-sync", "--no-instructions")
        # Loopback TCP and the private socket only; appended/overwritten in place so the files keep their owner.
        with open(self.data_dir / "pg_hba.conf", "w") as hba:
            hba.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")

    def _start_server(self) -> None:
        assert self.base_dir is not None
        log = self.base_dir / "server.log"
        for attempt in range(3):
            self.port = free_port()
            settings = {
                "listen_addresses": f"'{HOST}'",
                "port": str(self.port),
                "unix_socket_directories": f"'{self.base_dir}'",
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "100",
                "shared_buffers": "32MB",
                "logging_collector": "off",
            }
            with open(self.data_dir / "postgresql.conf", "a") as conf:
                conf.write("\n# tests/postgres.py\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
            # The postmaster runs as our child (not daemonized by pg_ctl) so that stop() reaps it; in a session of
            # its own, so that a Ctrl-C meant for pytest does not reach it before the fixture's teardown does.
            with open(log, "ab") as out:
                self._proc = subprocess.Popen(self._as_server_user([str(self.bin_dir / "postgres"), "-D",
                                                                    str(self.data_dir)]),
                                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                              cwd=self.base_dir, start_new_session=True)
            if self._wait_ready(self._proc):
                self.pid = self._read_pid(self.data_dir)
                return
            self._proc.wait()
            self._proc = None
            text = log.read_text(errors="replace") if log.exists() else ""
            if "Address already in use" not in text or attempt == 2:
                raise PostgresError(f"postgres did not start (port {self.port}):\n{text}")

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float = 60) -> bool:
        """Wait until postmaster.pid says "ready" (as pg_ctl -w does); False if the server exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            except OSError:
                lines = []
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return True
            time.sleep(0.02)
        raise PostgresError(f"postgres was not ready after {timeout:.0f}s")

    @staticmethod
    def _read_pid(data: Path) -> int | None:
        try:
            return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None


@pytest.fixture(scope="session", name="postgres")
def postgres_fixture() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, with role ``pulumi`` and database ``state`` (``backend_url``)."""
    server = PostgresServer()
    try:
        server.start()
    except (PostgresUnavailable, PostgresError) as err:
        pytest.fail(f"cannot start PostgreSQL for the tests: {err}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="postgres_backend_url")
def postgres_backend_url_fixture(postgres: PostgresServer) -> Iterator[str]:
    """A Pulumi backend URL of a database created for this test alone (dropped afterwards)."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url.rsplit("/", 1)[1].split("?", 1)[0])
