"""Run the example stack (Pulumi.yaml + __main__.py) with the `pulumi` CLI, as `make up` etc. do.

    python scripts/stack.py up|preview|refresh|destroy|outputs [--stack dev]
    python scripts/stack.py emulator|emulator-stop

Each operation is the `pulumi` command run in the repository (the project directory) on the stack
(`dev` unless --stack or PULUMI_STACK says otherwise; created if missing), printing the engine's own
output: `up`, `refresh` and `destroy` with --yes --skip-preview, `preview` with --diff. Unless
`copyai:baseUrl` is set in the stack config or COPYAI_BASE_URL in the environment, the local Copy.ai
emulator (and a receiver for its events) is started in the background first and the provider is
pointed at it through the environment, so nothing about the emulator is written into the stack. The
same by hand: `source scripts/env.sh && make emulator && COPYAI_BASE_URL=... pulumi up`.

Ports: COPYAI_EMULATOR_PORT (default 8787) and COPYAI_RECEIVER_PORT (default 8788). What this
script starts is recorded in .state/ (pid files, logs, the emulator's SQLite file) and stopped by
`make emulator-stop`. A server on those ports that it did not start is reported, not reused
blindly: an emulator that rejects the key `emulator-key` stops the run with what to do instead.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state"
EMULATOR_PORT = int(os.environ.get("COPYAI_EMULATOR_PORT") or "8787")
RECEIVER_PORT = int(os.environ.get("COPYAI_RECEIVER_PORT") or "8788")
EMULATOR_KEY = "emulator-key"
DEFAULT_RECEIVER_URL = "http://127.0.0.1:8788/copyai"  # Pulumi.yaml's default for `receiverUrl`

OPERATIONS = {
    "up": ["up", "--yes", "--skip-preview"],
    "preview": ["preview", "--diff"],
    "refresh": ["refresh", "--yes", "--skip-preview"],
    "destroy": ["destroy", "--yes", "--skip-preview"],
    "outputs": ["stack", "output"],
}


def say(message: str) -> None:
    print(f"[make] {message}", file=sys.stderr, flush=True)


# -- who is listening on a port ----------------------------------------------------------------
def listener_pid(port: int) -> int | None:
    """The pid of the process listening on TCP `port` on this machine (Linux /proc), if it can be seen."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie (exited, not yet reaped by whoever adopted it) does not."""
    if Path("/proc/self/stat").exists():
        try:
            return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(pid: int | None) -> str:
    if pid is None:
        return "a process this script cannot see"
    cmd = command_line(pid)
    return f"pid {pid}" + (f": {cmd}" if cmd else "")


def probe(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=1)
    except requests.RequestException:
        return None


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# -- the background servers this script starts ---------------------------------------------------
@dataclass(frozen=True)
class Server:
    name: str  # "emulator" or "receiver"
    port: int

    @property
    def pid_file(self) -> Path:
        return STATE / f"{self.name}-{self.port}.pid"

    @property
    def log(self) -> Path:
        return STATE / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def recorded_pid(self) -> int | None:
        """The pid this script started on this port, if that process still runs (also from the pid file of
        an earlier version of this script, `.state/<name>.pid`, which held only the pid)."""
        for pid_file in (self.pid_file, STATE / f"{self.name}.pid"):
            try:
                text = pid_file.read_text().strip()
                pid = int(json.loads(text)["pid"]) if text.startswith("{") else int(text)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            cmd = command_line(pid)
            if pid_alive(pid) and f"copyai-{self.name}" in cmd and (
                    pid_file == self.pid_file or f"--port {self.port}" in cmd or listener_pid(self.port) == pid):
                return pid
        return None

    def ours(self) -> int | None:
        """Our pid, when the process listening on the port is the one this script started."""
        pid = self.recorded_pid()
        if pid is None:
            return None
        listener = listener_pid(self.port)
        return pid if listener in (None, pid) else None

    def spawn(self, cmd: list[str], ready: str) -> int:
        STATE.mkdir(exist_ok=True)
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=ROOT)
        self.pid_file.write_text(json.dumps({"pid": proc.pid, "port": self.port}) + "\n")
        deadline = time.monotonic() + 20
        while True:
            resp = probe(ready)
            if resp is not None and resp.status_code == 200:
                return proc.pid
            if proc.poll() is not None or time.monotonic() > deadline:
                self.pid_file.unlink(missing_ok=True)
                tail = self.log.read_text(errors="replace").splitlines()[-5:]
                sys.exit(f"copyai-{self.name} did not start on port {self.port}; see {self.log}:\n  "
                         + "\n  ".join(tail))
            time.sleep(0.1)


EMULATOR = Server("emulator", EMULATOR_PORT)
RECEIVER = Server("receiver", RECEIVER_PORT)
OTHER_PORTS = f"COPYAI_EMULATOR_PORT={EMULATOR_PORT + 10} COPYAI_RECEIVER_PORT={RECEIVER_PORT + 10} make up"


def ensure_emulator() -> str:
    """Start the emulator unless ours already runs; refuse one on the port that is not usable."""
    server = EMULATOR
    pid = server.ours()
    if pid is not None:
        return f"copyai-emulator  pid {pid}, {server.url}/api (already running), log {server.log}"
    if not port_in_use(server.port):
        pid = server.spawn(["copyai-emulator", "--port", str(server.port), "--db", str(STATE / "emulator.sqlite"),
                            "--api-key", EMULATOR_KEY], f"{server.url}/_admin/health")
        return f"copyai-emulator  pid {pid}, {server.url}/api (started now), log {server.log}"

    # Something else listens on the emulator's port: this script did not start it.
    foreign = listener_pid(server.port)
    who = describe(foreign)
    kill = f"kill {foreign}" if foreign else "kill <its pid>"
    health = probe(f"{server.url}/_admin/health")
    if health is None or health.status_code != 200:
        sys.exit(f"Port {server.port} is in use by something that is not the Copy.ai emulator ({who}).\n"
                 f"Stop it, or run on other ports, e.g.\n    {OTHER_PORTS}")
    try:
        answer = requests.get(f"{server.url}/api/webhook", params={"page": 0, "size": 1}, timeout=5,
                              headers={"x-copy-ai-api-key": EMULATOR_KEY})
    except requests.RequestException as exc:
        sys.exit(f"The Copy.ai emulator on port {server.port} ({who}) does not answer: {exc}")
    if answer.status_code == 401:
        sys.exit(
            f"A Copy.ai emulator that `make` did not start is listening on port {server.port} ({who}),\n"
            f"and it rejects the key `make` uses, '{EMULATOR_KEY}' (HTTP 401): it was started with another\n"
            f"--api-key, e.g. by the README's walkthrough. Every webhook would fail with 401, so nothing was run.\n"
            f"Either stop that emulator (Ctrl-C in its terminal, or `{kill}`) and run `make` again,\n"
            f"or leave it running and use other ports:\n    {OTHER_PORTS}")
    if answer.status_code != 200:
        sys.exit(f"The Copy.ai emulator on port {server.port} ({who}) answers HTTP {answer.status_code} "
                 f"to a list of webhooks with key '{EMULATOR_KEY}'; stop it or use other ports:\n    {OTHER_PORTS}")
    say(f"Using a Copy.ai emulator on port {server.port} that `make` did not start ({who}); it accepts "
        f"'{EMULATOR_KEY}'. Its webhooks are its own (not .state/emulator.sqlite), and `make emulator-stop` "
        f"will not stop it.")
    return f"copyai-emulator  {who}, {server.url}/api (not started by make; stop it yourself)"


def ensure_receiver() -> str:
    server = RECEIVER
    pid = server.ours()
    if pid is not None:
        return f"copyai-receiver  pid {pid}, {server.url} (already running), log {server.log}"
    if not port_in_use(server.port):
        pid = server.spawn(["copyai-receiver", "--port", str(server.port)], f"{server.url}/_events")
        return f"copyai-receiver  pid {pid}, {server.url} (started now), log {server.log}"
    who = describe(listener_pid(server.port))
    events = probe(f"{server.url}/_events")
    if events is None or events.status_code != 200:
        say(f"Warning: port {server.port} is in use by something that is not copyai-receiver ({who}); the "
            f"emulator's event deliveries to it will not be recorded. Stop it, or set COPYAI_RECEIVER_PORT "
            f"and the stack's receiverUrl to another port.")
        return f"(no receiver: port {server.port} is taken by {who})"
    say(f"Using a copyai-receiver on port {server.port} that `make` did not start ({who}); "
        f"`make emulator-stop` will not stop it.")
    return f"copyai-receiver  {who}, {server.url} (not started by make; stop it yourself)"


def start_emulator() -> tuple[dict[str, str], str]:
    """Start (or reuse) the emulator and the receiver: the environment pointing the provider at the
    emulator, and what is left running in the background, to tell the user."""
    running = [ensure_emulator(), ensure_receiver()]
    left = ("Left running in the background:\n    " + "\n    ".join(running)
            + "\n  Stop them with `make emulator-stop`.")
    return {"COPYAI_BASE_URL": f"{EMULATOR.url}/api", "COPYAI_API_KEY": EMULATOR_KEY}, left


def stop_emulator() -> None:
    STATE.mkdir(exist_ok=True)
    stopped = False
    servers = {EMULATOR, RECEIVER} | {Server(f.stem.split("-")[0], int(f.stem.split("-")[1]))
                                      for f in STATE.glob("*-*.pid") if f.stem.split("-")[-1].isdigit()}
    for server in sorted(servers, key=lambda s: (s.name, s.port)):
        pid = server.recorded_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            say(f"stopped copyai-{server.name} (pid {pid}, port {server.port})")
            stopped = True
        server.pid_file.unlink(missing_ok=True)
    for legacy in (STATE / "emulator.pid", STATE / "receiver.pid"):
        legacy.unlink(missing_ok=True)
    if not stopped:
        say("no emulator or receiver started by `make` is running")
    for server in (EMULATOR, RECEIVER):
        if port_in_use(server.port):
            say(f"port {server.port} is still in use by {describe(listener_pid(server.port))}, which `make` "
                f"did not start; stop it yourself if it is in your way")


# -- the pulumi CLI -------------------------------------------------------------------------------
def pulumi(*args: str, env: dict[str, str] | None = None, capture: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pulumi", *args], cwd=ROOT, text=True, capture_output=capture, check=False,
                          env={**os.environ, **(env or {})})


def select_stack(name: str) -> None:
    done = pulumi("stack", "select", name, "--create", "--non-interactive")
    if done.returncode != 0:
        sys.exit(f"pulumi stack select {name} --create failed:\n{done.stderr.strip()}")


def config_value(stack: str, key: str) -> str | None:
    done = pulumi("config", "get", key, "--stack", stack)
    return done.stdout.strip() if done.returncode == 0 else None


def run_pulumi(args: list[str], env: dict[str, str]) -> int:
    """The CLI in the foreground, its output straight to the terminal; Ctrl-C reaches it and it cancels."""
    proc = subprocess.Popen(["pulumi", *args], cwd=ROOT, env={**os.environ, **env})
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the CLI got the same SIGINT and winds the update down itself
            continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=[*OPERATIONS, "emulator", "emulator-stop"])
    parser.add_argument("--stack", default=os.environ.get("PULUMI_STACK") or "dev")
    args = parser.parse_args()
    if args.command == "emulator-stop":
        stop_emulator()
        return
    if args.command == "emulator":
        emulator_env, left = start_emulator()
        say(left)
        print(f"Copy.ai emulator: {emulator_env['COPYAI_BASE_URL']} (x-copy-ai-api-key: {EMULATOR_KEY})")
        print(f"Point the provider at it: export COPYAI_BASE_URL={emulator_env['COPYAI_BASE_URL']} "
              f"COPYAI_API_KEY={EMULATOR_KEY}")
        return

    select_stack(args.stack)
    env: dict[str, str] = {}
    left = ""
    configured = config_value(args.stack, "copyai:baseUrl")
    if args.command != "outputs" and not configured and not os.environ.get("COPYAI_BASE_URL"):
        env, left = start_emulator()
        say(f"Using the local Copy.ai emulator at {env['COPYAI_BASE_URL']} (not written into the stack)")
        if RECEIVER_PORT != 8788 and config_value(args.stack, "receiverUrl") in (None, DEFAULT_RECEIVER_URL):
            say(f"Note: the stack's receiverUrl is {DEFAULT_RECEIVER_URL}; for events to reach the receiver on "
                f"port {RECEIVER_PORT}: pulumi config set receiverUrl http://127.0.0.1:{RECEIVER_PORT}/copyai")
    elif args.command != "outputs":
        say(f"Using the Copy.ai API at {configured or os.environ['COPYAI_BASE_URL']}")

    cmd = [*OPERATIONS[args.command], "--stack", args.stack]
    code = run_pulumi(cmd, env)
    if left:
        say(left)
    if code != 0:
        say(f"`pulumi {' '.join(cmd)}` failed (exit {code}); the engine's diagnostics are above.")
        sys.exit(code)


if __name__ == "__main__":
    main()
