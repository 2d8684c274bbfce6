"""Pulumi's PostgreSQL DIY state backend, through the real CLI, against a throwaway server (tests/postgres.py).

What the pinned CLI (v3.274.1, pkg/backend/diy and pkg/backend/diy/postgres) does with it:

* URL: ``postgres://USER[:PASSWORD]@HOST:PORT/DATABASE?sslmode=disable`` (lib/pq's URL form; any libpq parameter
  may follow, plus ``table=NAME``, which Pulumi strips before connecting). ``PULUMI_BACKEND_URL`` alone selects
  it; ``pulumi login`` (no argument: it takes the variable) or ``pulumi login URL`` also records it in
  ``$PULUMI_HOME/credentials.json`` as the current backend. Only ``postgres://`` is accepted (not ``postgresql://``).
* Storage: one table, ``pulumi_state`` by default (``key TEXT PRIMARY KEY, data JSON, updated_at TIMESTAMPTZ``),
  created on first use if ``to_regclass`` does not find it (so the role needs CREATE on the schema once; in
  PostgreSQL 15 the database owner has it). Each "file" of the DIY layout is a row whose ``data`` is
  ``{"data": "<base64 of the bytes>"}``. The URL's path (the database name) is *also* used as a key prefix, as for
  a bucket sub-directory: with ``/state`` the keys are ``state/.pulumi/meta.yaml``,
  ``state/.pulumi/stacks/<project>/<stack>.json`` (+ ``.json.bak``), ``state/.pulumi/history/...``,
  ``state/.pulumi/locks/...``.
* Locks: ``pulumi up``/``refresh``/``destroy``/``import``, ``stack init``/``rm``/``rename`` and ``stack import``
  write a row ``<db>/.pulumi/locks/organization/<project>/<stack>/<uuid>.json`` holding
  ``{"pid", "username", "hostname", "timestamp"}`` (uuid: one per CLI process), then list that prefix and give up if
  any *other* lock row is there; they delete their row when done. ``pulumi preview`` takes no lock. It is no
  PostgreSQL lock (no advisory lock, no transaction): write-then-check, so two racing processes cannot both win (at
  worst both give up), and a killed CLI leaves its row behind until ``pulumi cancel`` deletes all the stack's lock
  rows. The refusal reads::

      error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the
      lock file with `pulumi cancel`.
        postgres://****:****@127.0.0.1:PORT/state/.pulumi/locks/organization/proj/dev/<uuid>.json?sslmode=disable:
        created by USER@HOST (pid PID) at 2026-01-02T03:04:05Z
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.postgres import (  # noqa: F401  (the fixtures "postgres" and "postgres_backend_url")
    PostgresServer,
    PostgresUnavailable,
    find_bin_dir,
    pid_alive,
    port_open,
    postgres_backend_url_fixture,
    postgres_fixture,
)

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

LOCKED = "the stack is currently locked by 1 lock(s)"


class Cli:
    """The pulumi CLI with a PostgreSQL backend and a PULUMI_HOME of its own (one team member)."""

    def __init__(self, backend_url: str, home: Path) -> None:
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": backend_url,
            "PULUMI_CONFIG_PASSPHRASE": "test",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_HOME": str(home),
        }

    def __call__(self, cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["pulumi", *args, "--non-interactive", "--color", "never"], cwd=cwd, env=self.env,
                              capture_output=True, text=True, check=False, timeout=120)
        if ok:
            assert done.returncode == 0, f"pulumi {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done


def project(path: Path, name: str, runtime: str = "yaml") -> Path:
    path.mkdir(parents=True)
    (path / "Pulumi.yaml").write_text(f"name: {name}\nruntime: {runtime}\n")
    return path


def database_of(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def keys(pg: PostgresServer, url: str, prefix: str = "") -> list[str]:
    out = pg.psql(f"SELECT key FROM pulumi_state WHERE key LIKE '{prefix}%' ORDER BY key", database=database_of(url))
    return out.splitlines()


def stack_names(cli: Cli, cwd: Path) -> list[str]:
    return [s["name"] for s in json.loads(cli(cwd, "stack", "ls", "--all", "--json").stdout)]


# -- the fixture ---------------------------------------------------------------------------------------------------

def test_server_accepts_connections(postgres: PostgresServer) -> None:
    assert postgres.backend_url == f"postgres://pulumi@127.0.0.1:{postgres.port}/state?sslmode=disable"
    assert postgres.psql("SELECT current_user, current_database()") == "pulumi|state"
    assert postgres.psql("SHOW server_version_num").startswith("15")
    settings = postgres.psql(
        "SELECT current_setting('listen_addresses'), current_setting('unix_socket_directories'), "
        "current_setting('fsync'), (SELECT rolsuper FROM pg_roles WHERE rolname = 'pulumi')",
        user="postgres",
    )
    assert settings == f"127.0.0.1|{postgres.base_dir}|off|f"
    assert port_open(postgres.port)


def test_create_database(postgres: PostgresServer) -> None:
    url = postgres.create_database()
    name = database_of(url)
    assert url == f"postgres://pulumi@127.0.0.1:{postgres.port}/{name}?sslmode=disable"
    assert postgres.psql("SELECT current_database(), pg_get_userbyid(datdba) FROM pg_database "
                         "WHERE datname = current_database()", database=name) == f"{name}|pulumi"
    postgres.drop_database(name)
    assert postgres.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == "0"


def test_stop_leaves_no_trace() -> None:
    with PostgresServer() as pg:
        port, base, pid = pg.port, pg.base_dir, pg.pid
        assert base is not None and pid is not None
        assert port_open(port) and base.is_dir() and pid_alive(pid)
    assert not port_open(port)
    assert not base.exists()
    assert not pid_alive(pid)
    assert not Path(f"/proc/{pid}").exists()  # reaped, not a zombie
    # No process of that cluster remains: the postmaster names the directory in its arguments, and every backend
    # process (whose title is rewritten, e.g. "postgres: checkpointer") works in the data directory.
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline, cwd = (proc / "cmdline").read_bytes(), os.readlink(proc / "cwd")
        except OSError:
            continue
        assert str(base).encode() not in cmdline and not cwd.startswith(str(base)), f"{proc.name} runs from {base}"
    pg.stop()  # idempotent
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))


def test_missing_binaries_fail_with_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PG_BINDIR", str(tmp_path))
    with pytest.raises(PostgresUnavailable, match="does not hold initdb, pg_ctl and postgres"):
        find_bin_dir()


# -- the backend through the CLI -----------------------------------------------------------------------------------

def test_stacks_of_two_projects_and_two_users(
    postgres: PostgresServer, postgres_backend_url: str, tmp_path: Path
) -> None:
    url = postgres_backend_url
    alice, bob = Cli(url, tmp_path / "alice-home"), Cli(url, tmp_path / "bob-home")
    proj, other = project(tmp_path / "proj", "proj"), project(tmp_path / "other", "other")

    login = alice(proj, "login")  # no argument: the login takes PULUMI_BACKEND_URL
    assert "Logged in to " in login.stdout and f"({url})" in login.stdout
    creds = json.loads((tmp_path / "alice-home" / "credentials.json").read_text())
    assert creds["current"] == url
    assert alice(proj, "whoami", "-v").stdout.count(f"Backend URL: {url}") == 1

    assert "Created stack 'dev'" in alice(proj, "stack", "init", "dev").stderr
    assert "Created stack 'dev'" in alice(other, "stack", "init", "organization/other/dev").stderr
    assert keys(postgres, url) == [
        f"{database_of(url)}/.pulumi/meta.yaml",
        f"{database_of(url)}/.pulumi/stacks/other/dev.json",
        f"{database_of(url)}/.pulumi/stacks/other/dev.json.bak",
        f"{database_of(url)}/.pulumi/stacks/proj/dev.json",
        f"{database_of(url)}/.pulumi/stacks/proj/dev.json.bak",
    ]

    # Another team member, with no login of their own, sees the same stacks.
    listing = bob(proj, "stack", "ls", "--all").stdout
    assert "organization/other/dev" in listing and "dev" in listing.split()
    assert stack_names(bob, proj) == ["dev", "organization/other/dev"]
    assert not (tmp_path / "bob-home" / "credentials.json").exists()

    assert "Stack 'dev' has been removed!" in bob(proj, "stack", "rm", "dev", "--yes").stdout
    assert stack_names(alice, other) == ["dev"]  # from project "other", its own stack is just "dev"
    assert stack_names(alice, proj) == ["organization/other/dev"]
    assert f"{database_of(url)}/.pulumi/stacks/proj/dev.json" not in keys(postgres, url)
    assert keys(postgres, url, f"{database_of(url)}/.pulumi/locks/") == []


def test_a_held_lock_refuses_updates_until_cancel(
    postgres: PostgresServer, postgres_backend_url: str, tmp_path: Path
) -> None:
    url = postgres_backend_url
    cli = Cli(url, tmp_path / "home")
    proj = project(tmp_path / "proj", "proj")
    cli(proj, "stack", "init", "dev")

    # What a running `pulumi up` of someone else leaves in the table while it runs.
    lock_id = uuid.uuid4()
    key = f"{database_of(url)}/.pulumi/locks/organization/proj/dev/{lock_id}.json"
    content = {"pid": 4242, "username": "alice", "hostname": "laptop", "timestamp": "2026-01-02T03:04:05Z"}
    data = json.dumps({"data": base64.b64encode(json.dumps(content).encode()).decode()})
    postgres.psql(f"INSERT INTO pulumi_state (key, data) VALUES ('{key}', '{data}')", database=database_of(url))

    for args in (["up", "--yes"], ["refresh", "--yes"], ["destroy", "--yes"], ["stack", "rm", "--yes"]):
        done = cli(proj, *args, "--stack", "dev", ok=False)
        assert done.returncode != 0, args
        assert LOCKED in done.stderr, done.stderr
        assert f"/{key}?sslmode=disable: created by alice@laptop (pid 4242) at 2026-01-02T03:04:05Z" in done.stderr
        assert "postgres://****:****@127.0.0.1:" in done.stderr  # the user is redacted
    assert keys(postgres, url, f"{database_of(url)}/.pulumi/locks/") == [key]

    cli(proj, "cancel", "--yes", "--stack", "dev")  # deletes every lock row of the stack
    assert keys(postgres, url, f"{database_of(url)}/.pulumi/locks/") == []
    cli(proj, "stack", "rm", "dev", "--yes")


SLOW_PROGRAM = """\
import os, pathlib, time
import pulumi
pathlib.Path(os.environ["TEST_STARTED"]).touch()
deadline = time.monotonic() + 60
while not pathlib.Path(os.environ["TEST_GATE"]).exists() and time.monotonic() < deadline:
    time.sleep(0.05)
pulumi.export("done", True)
"""


def test_concurrent_up_on_the_same_stack_is_refused(
    postgres: PostgresServer, postgres_backend_url: str, tmp_path: Path
) -> None:
    url = postgres_backend_url
    alice, bob = Cli(url, tmp_path / "alice-home"), Cli(url, tmp_path / "bob-home")
    started, gate = tmp_path / "started", tmp_path / "gate"
    for cli in (alice, bob):
        cli.env.update(TEST_STARTED=str(started), TEST_GATE=str(gate), PATH=f"{Path(sys.executable).parent}:"
                       f"{os.environ['PATH']}")
    alice_dir, bob_dir = project(tmp_path / "alice", "proj", "python"), project(tmp_path / "bob", "proj", "python")
    for d in (alice_dir, bob_dir):
        (d / "__main__.py").write_text(SLOW_PROGRAM)
    alice(alice_dir, "stack", "init", "dev")

    first = subprocess.Popen(["pulumi", "up", "--yes", "--stack", "dev", "--non-interactive", "--color", "never"],
                             cwd=alice_dir, env=alice.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "alice's program did not start"
            time.sleep(0.05)
        [lock] = keys(postgres, url, f"{database_of(url)}/.pulumi/locks/organization/proj/dev/")

        second = bob(bob_dir, "up", "--yes", "--stack", "dev", ok=False)
        assert second.returncode != 0
        assert LOCKED in second.stderr, second.stderr
        assert f"/{lock}?sslmode=disable: created by " in second.stderr
        assert f"(pid {first.pid})" in second.stderr
    finally:
        gate.touch()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, f"{out}\n{err}"
    assert keys(postgres, url, f"{database_of(url)}/.pulumi/locks/") == []
    outputs = json.loads(bob(bob_dir, "stack", "output", "--json", "--stack", "dev").stdout)
    assert outputs == {"done": True}
