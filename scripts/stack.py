"""Run the example stack (Pulumi.yaml + __main__.py) with the `pulumi` CLI, as `make up` etc. do.

    python scripts/stack.py up|preview|refresh|destroy|outputs [--stack dev]
    python scripts/stack.py emulator|emulator-stop

Each operation is the `pulumi` command run in the repository (the project directory) on the stack `dev`
unless --stack or PULUMI_STACK names another, printing the engine's own output.

A stack is bound to one API, recorded in its own config (`copyai:baseUrl` in Pulumi.<stack>.yaml), which the
provider reads before the COPYAI_* environment; `make` never changes it behind your back and says which API
it uses:
- the demo stack `dev` is the only one `make` creates, bound to the local emulator (its URL and key, as a
  secret, in its config); a `dev` made by an older `make` (no copyai:baseUrl) gets them recorded, with a message;
- any other stack must exist (a mistyped PULUMI_STACK fails, naming the stacks there are) and have
  copyai:baseUrl in its config;
- COPYAI_BASE_URL in the environment that differs from the stack's copyai:baseUrl is refused;
- the emulator (and a receiver for its events) is started in the background only when the stack's
  copyai:baseUrl is the local emulator's URL, http://127.0.0.1:$COPYAI_EMULATOR_PORT/api.

`up`, `refresh` and `destroy` preview and ask before changing anything (the CLI asks, at a terminal), except
on the demo stack `dev` against the local emulator, or with YES=1 in the environment (or `make ... YES=1`).
Without a terminal and without YES=1 they run the preview only, change nothing and exit non-zero. `preview`
runs with --diff.

Ports: COPYAI_EMULATOR_PORT (default 8787) and COPYAI_RECEIVER_PORT (default 8788). What this
script starts is recorded in .state/ (pid files, logs, the emulator's SQLite file) and stopped by
`make emulator-stop`. A server on those ports that it did not start is reported, not reused
blindly: an emulator that rejects the key `emulator-key` stops the run with what to do instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import requests

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state"
EMULATOR_PORT = int(os.environ.get("COPYAI_EMULATOR_PORT") or "8787")
RECEIVER_PORT = int(os.environ.get("COPYAI_RECEIVER_PORT") or "8788")
EMULATOR_KEY = "emulator-key"
DEMO_STACK = "dev"  # the demo stack: made by `make` itself, bound to the local emulator
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
            + f"\n  Stop them with `make emulator-stop`. The emulator's dashboard: {EMULATOR.url}/")
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


def checked(*args: str) -> str:
    """`pulumi <args>`'s stdout; a failure stops the run with the CLI's message."""
    done = pulumi(*args)
    if done.returncode != 0:
        sys.exit(f"`pulumi {' '.join(args)}` failed:\n{done.stderr.strip()}")
    return done.stdout


def existing_stacks() -> list[str]:
    """The project's stacks in the backend, by name."""
    return [str(entry["name"]) for entry in json.loads(checked("stack", "ls", "--json") or "[]")]


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def stack_config(stack: str) -> dict[str, Any]:
    """The stack's config as `pulumi config --json` shows it (secrets without their values)."""
    return dict(json.loads(checked("config", "--json", "--stack", stack) or "{}"))


def same_url(a: str, b: str) -> bool:
    return a.strip().rstrip("/") == b.strip().rstrip("/")


def run_pulumi(args: list[str], env: dict[str, str]) -> int:
    """The CLI in the foreground, its output straight to the terminal; Ctrl-C reaches it and it cancels."""
    proc = subprocess.Popen(["pulumi", *args], cwd=ROOT, env={**os.environ, **env})
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the CLI got the same SIGINT and winds the update down itself
            continue


# -- which API a stack talks to ---------------------------------------------------------------------
LOCAL_URL = f"{EMULATOR.url}/api"  # the local emulator's base URL, as `make` starts it
LOOPBACK_API = re.compile(r"^http://127\.0\.0\.1:(\d+)/api/?$")


def config_file(stack: str) -> str:
    return f"Pulumi.{short(stack)}.yaml"


def refuse(message: str) -> NoReturn:
    sys.exit(f"[make] {message}")


def ensure_stack(stack: str) -> dict[str, Any]:
    """Select `stack`, creating it only when it is the demo stack (bound to the local emulator); its config."""
    names = existing_stacks()
    if stack in names or short(stack) in map(short, names):
        checked("stack", "select", stack, "--non-interactive")
        return stack_config(stack)
    if stack != DEMO_STACK:
        listed = ", ".join(sorted(names)) or "none yet"
        refuse(f"Stack {stack!r} does not exist (this project's stacks: {listed}), and `make` creates only the demo "
               f"stack {DEMO_STACK!r} by itself. Check PULUMI_STACK for a typo; to create {stack!r} on purpose:\n"
               f"    pulumi stack init {stack}\n"
               f"    pulumi config set copyai:baseUrl https://api.copy.ai/api --stack {stack}   # the API it manages\n"
               f"then run `make` again (README: Configuration, With a real key).")
    env_url = os.environ.get("COPYAI_BASE_URL")
    if env_url and not same_url(env_url, LOCAL_URL):
        refuse_env_url(stack, env_url, LOCAL_URL, creating=True)
    checked("stack", "init", stack, "--non-interactive")
    record_emulator(stack, {})
    say(f"Created the demo stack {stack!r}, bound to the local Copy.ai emulator: copyai:baseUrl {LOCAL_URL} and its "
        f"key (secret) are in its config ({config_file(stack)}).")
    return stack_config(stack)


def record_emulator(stack: str, config: dict[str, Any]) -> None:
    checked("config", "set", "copyai:baseUrl", LOCAL_URL, "--stack", stack)
    if "copyai:apiKey" not in config:
        checked("config", "set", "--secret", "copyai:apiKey", EMULATOR_KEY, "--stack", stack)


def refuse_env_url(stack: str, env_url: str, stack_url: str, creating: bool = False) -> NoReturn:
    bound = ("would be created bound to the local emulator at" if creating
             else f"is bound to {stack_url} (copyai:baseUrl in its config, {config_file(stack)}), which the provider "
                  f"uses before COPYAI_BASE_URL. Its webhooks were registered at")
    where = f" {stack_url}" if creating else " that API"
    refuse(f"COPYAI_BASE_URL is {env_url} in your environment, but stack {stack!r} {bound}{where}. "
           f"`make` never switches a stack's API, so nothing was run. Either\n"
           f"  - run stack {stack!r} against {stack_url}: `unset COPYAI_BASE_URL`, then `make` again; or\n"
           f"  - manage webhooks at {env_url} in a stack of their own (README: With a real key):\n"
           f"        pulumi stack init prod\n"
           f"        pulumi config set copyai:baseUrl {env_url} --stack prod\n"
           f"        PULUMI_STACK=prod make up"
           + ("" if creating else
              f"\n  - or move stack {stack!r} to {env_url} deliberately, only if its webhooks are there too: "
              f"`pulumi config set copyai:baseUrl {env_url} --stack {stack}`"))


def stack_api(stack: str, config: dict[str, Any]) -> str:
    """The stack's base URL from its config; adopts the emulator for a demo stack made by an older `make`."""
    env_url = os.environ.get("COPYAI_BASE_URL")
    configured = (config.get("copyai:baseUrl") or {}).get("value")
    if configured:
        if env_url and not same_url(env_url, configured):
            refuse_env_url(stack, env_url, configured)
        return str(configured)
    if stack != DEMO_STACK:
        refuse(f"Stack {stack!r} has no copyai:baseUrl in its config, so the API it talks to would depend on the "
               f"shell (COPYAI_BASE_URL{' = ' + env_url if env_url else ' unset: the default'}). Record the API its "
               f"webhooks are at, then run `make` again:\n"
               f"    pulumi config set copyai:baseUrl https://api.copy.ai/api --stack {stack}\n"
               f"(or the URL of another API, e.g. a Copy.ai emulator's http://127.0.0.1:<port>/api).")
    if env_url and not same_url(env_url, LOCAL_URL):
        refuse(f"Stack {stack!r} has no copyai:baseUrl in its config: an earlier `make` pointed it at the local "
               f"emulator through the environment, unless COPYAI_BASE_URL was set, as it is now ({env_url}). "
               f"Say where its webhooks are, then run `make` again:\n"
               f"  - at {env_url}: `pulumi config set copyai:baseUrl {env_url} --stack {stack}` (better: a stack "
               f"of its own for a real API, README: With a real key);\n"
               f"  - at the local emulator: `unset COPYAI_BASE_URL` (`make` then records {LOCAL_URL} in its config).")
    record_emulator(stack, config)
    say(f"Stack {stack!r} had no copyai:baseUrl in its config (made by an earlier `make`, which pointed it at the "
        f"local emulator through the environment): recorded the emulator's {LOCAL_URL} and key in "
        f"{config_file(stack)}, so its API no longer depends on the shell. If its webhooks are at another API, set "
        f"that instead: pulumi config set copyai:baseUrl <url> --stack {stack}")
    return LOCAL_URL


def key_source(stack: str, config: dict[str, Any], local: bool) -> tuple[str, dict[str, str]]:
    """Where the provider gets its key (to say so), and the environment to add."""
    if "copyai:apiKey" in config:
        if os.environ.get("COPYAI_API_KEY"):
            say(f"Note: COPYAI_API_KEY in your environment is not used: stack {stack!r} has copyai:apiKey in its "
                f"config, which the provider reads first.")
        return f"copyai:apiKey in its config ({config_file(stack)})", {}
    if os.environ.get("COPYAI_API_KEY"):
        return "COPYAI_API_KEY from your environment", {}
    if local:
        return f"the emulator's key {EMULATOR_KEY!r}", {"COPYAI_API_KEY": EMULATOR_KEY}
    refuse(f"Stack {stack!r} has no API key: export COPYAI_API_KEY=<your key> (stored nowhere), or keep it "
           f"encrypted in the stack config under a passphrase of your own: "
           f"`pulumi config set --secret copyai:apiKey <your key> --stack {stack}` (README: With a real key).")


def interactive() -> bool:
    """Whether the CLI can ask (its own test: a terminal on stdin and stdout, and not CI)."""
    ci = os.environ.get("CI", "").lower() not in ("", "0", "false")
    return sys.stdin.isatty() and sys.stdout.isatty() and not ci


def plan(command: str, stack: str, demo: bool) -> tuple[list[str], bool]:
    """The CLI's arguments for `command`, and whether they only preview because nobody could be asked."""
    if command in ("preview", "outputs"):
        return [*OPERATIONS[command], "--stack", stack], False
    if demo:  # the demo stack on the local emulator: at once, as before
        return [command, "--yes", "--skip-preview", "--stack", stack], False
    if os.environ.get("YES", "").lower() in ("1", "y", "yes", "true"):
        return [command, "--yes", "--stack", stack], False  # previews, then goes ahead
    if interactive():
        return [command, "--stack", stack], False  # previews, then the CLI asks
    only = ["preview", "--diff"] if command == "up" else [command, "--preview-only"]
    return [*only, "--stack", stack], True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=[*OPERATIONS, "emulator", "emulator-stop"])
    parser.add_argument("--stack", default=os.environ.get("PULUMI_STACK") or DEMO_STACK)
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

    stack = args.stack
    config = ensure_stack(stack)
    if args.command == "outputs":
        sys.exit(run_pulumi([*OPERATIONS["outputs"], "--stack", stack], {}))
    base_url = stack_api(stack, config)
    local = same_url(base_url, LOCAL_URL)
    if stack == DEMO_STACK and not local and (match := LOOPBACK_API.match(base_url)):
        refuse(f"Stack {stack!r} is bound to the local emulator on port {match[1]} ({base_url}), but "
               f"COPYAI_EMULATOR_PORT says {EMULATOR_PORT}: run with COPYAI_EMULATOR_PORT={match[1]} (the port "
               f"its webhooks are at), or unset it if you set it by mistake.")
    demo = stack == DEMO_STACK and local
    key, env = key_source(stack, config, local)
    left = ""
    if local:
        _, left = start_emulator()
        say(f"Stack {stack!r}: the local Copy.ai emulator at {base_url} (copyai:baseUrl in {config_file(stack)}), "
            f"key: {key}")
        receiver = (config.get("copyai-webhooks:receiverUrl") or {}).get("value")
        if RECEIVER_PORT != 8788 and receiver in (None, DEFAULT_RECEIVER_URL):
            say(f"Note: the stack's receiverUrl is {DEFAULT_RECEIVER_URL}; for events to reach the receiver on "
                f"port {RECEIVER_PORT}: pulumi config set receiverUrl http://127.0.0.1:{RECEIVER_PORT}/copyai")
    else:
        say(f"Stack {stack!r}: the Copy.ai API at {base_url} (copyai:baseUrl in {config_file(stack)}), key: {key}")

    cmd, preview_only = plan(args.command, stack, demo)
    asks = args.command in ("up", "refresh", "destroy") and not preview_only and "--yes" not in cmd
    if asks:
        say(f"`pulumi {args.command}` previews the changes and asks before making them.")
    code = run_pulumi(cmd, env)
    if left:
        say(left)
    if code != 0:
        if asks:
            say(f"`pulumi {' '.join(cmd)}` exited {code}: if you answered no, nothing was changed; otherwise the "
                f"engine's diagnostics are above.")
        else:
            say(f"`pulumi {' '.join(cmd)}` failed (exit {code}); the engine's diagnostics are above.")
        sys.exit(code)
    if preview_only:
        variable = "" if stack == DEMO_STACK else f"PULUMI_STACK={stack} "
        refuse(f"Nothing was changed: the above is only the preview of `make {args.command}` on stack {stack!r} "
               f"({base_url}). `make` asks before changing a stack other than the demo stack on the local emulator, "
               f"and there is no terminal to ask at. To go ahead, re-run with YES=1:\n"
               f"    YES=1 {variable}make {args.command}")


if __name__ == "__main__":
    main()
