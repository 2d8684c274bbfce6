"""`make test-release`: a release built by `tools/release/release.py` (what `make release` runs), consumed the
way a team consumes a package of the Pulumi registry. Not part of `make test` (marker `release`).

The session builds a release of version 0.9.1 (not the sources' 0.1.0: nothing may hard-wire the version)
whose pluginDownloadURL is a loopback HTTP server serving that release directory, and a Go module path of
its own. Every consumer project lives in a fresh directory with a fresh PULUMI_HOME and automatic plugin
acquisition ON (nothing installed beforehand, no `pulumi-resource-copyai` on PATH): the engine downloads the
plugin archive itself, says so, and `pulumi plugin ls` shows it.

- YAML: the package's resources name `version` and `pluginDownloadURL` (pulumi-yaml resource options);
  also `pulumi plugin install resource copyai 0.9.1 --server <url>`.
- TypeScript: the npm package published to a Verdaccio 6.8.0 started here; a project shaped like
  `pulumi new typescript`'s with `.npmrc` naming the registry for the @pulumi-copyai scope runs
  `npm install @pulumi-copyai/copyai` on Node.js 22 (the npm package `node`), no EBADENGINE; and on this
  machine's Node.js 20 with @pulumi/pulumi 3.248.0 (the newest that supports it).
- Go: `go get <module>/copyai@v0.9.1` from the release's GOPROXY directory (file://).
- Python: `pip install pulumi_copyai_sdk==0.9.1 --find-links <release dir>` into a fresh venv.
- The linux-amd64 archive with CPython 3.10, 3.12 and 3.13 each as the only python3 on PATH; with 3.9,
  the error says what to do, and PULUMI_COPYAI_PYTHON overrides; several first starts at once.
- Every archive (also darwin, windows, linux-arm64): complete and platform-correct (tools/release/verify.py).

Each project goes through `pulumi up`, `pulumi preview --expect-no-changes` and `pulumi destroy` against the
emulator. Durations on 2 shared cores with warm caches (wheelhouses, npm, Go modules): the release build
about 50 s, then 2.5 to 3.5 minutes of tests (Go 31 to 34 s, TypeScript 25 to 40 s and 18 to 31 s, Python 24 to
30 s, YAML 7 to 11 s each). A first run also downloads the wheelhouses (2 to 3 minutes) and installs
Verdaccio and Node.js 22 into ~/.cache/pulumi-copyai/npm-tools/ (about 30 s).
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from pulumi_copyai.emulator.testing import Emulator

pytestmark = pytest.mark.release

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "release"))

import verify  # noqa: E402  (tools/release)
from platforms import PLATFORMS  # noqa: E402

VERSION = "0.9.1"
GO_MODULE = "example.test/copyai-release/sdk/go"
NPM_PACKAGE = "@pulumi-copyai/copyai"
NODE22 = "node@22.23.3"          # Node.js 22 binaries from the npm registry
VERDACCIO = "verdaccio@6.8.0"    # the newest Verdaccio that runs on Node.js 20
PULUMI_NPM = "3.270.0"           # @pulumi/pulumi of the TypeScript project on Node.js 22 (engines: node >= 22)
PULUMI_NPM_NODE20 = "3.248.0"    # the newest @pulumi/pulumi whose engines accept Node.js 20
PULUMI_PY = "3.272.0"            # the Python SDK of requirements-dev.txt (in pip's cache)
HOST = "linux-amd64"
ARCHIVE = f"pulumi-resource-copyai-v{VERSION}-{HOST}.tar.gz"
#: What the engine prints when it downloads the plugin: before the program runs (the language host named the
#: plugin: YAML, Node.js, Python, and `pulumi plugin install`), or while it runs (Go: the SDK asks for it).
DOWNLOADED = (f"Downloading plugin copyai-{VERSION}", "Downloading provider: copyai")


def downloaded(out: str) -> bool:
    return any(text in out for text in DOWNLOADED)
CACHE = Path(os.environ.get("PULUMI_CLI_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or
                                                          Path.home() / ".cache") / "pulumi-copyai")


# -- the release and the server the engine downloads it from -----------------------------------------
class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]


class Downloads:
    """A loopback HTTP server of a directory: the release's pluginDownloadURL."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
        self.httpd.paths = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def paths(self) -> list[str]:
        return list(self.httpd.paths)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Downloads]:
    server = Downloads(tmp_path_factory.mktemp("downloads"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def dist(downloads: Downloads) -> Path:
    """The release, as `make release VERSION=0.9.1 PLUGIN_DOWNLOAD_URL=... GO_MODULE=...` builds it, in the
    server's releases/v0.9.1/ (the download URL names ${VERSION}, which the engine substitutes)."""
    out = downloads.root / "releases" / f"v{VERSION}"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "release" / "release.py"), "build",
                           "--version", VERSION, "--out", str(out), "--go-module", GO_MODULE,
                           "--plugin-download-url", downloads.url + "/releases/v${VERSION}"],
                          text=True, capture_output=True, check=False)
    assert done.returncode == 0, f"the release build failed:\n{done.stdout}\n{done.stderr}"
    return out


def _pulumi_bin() -> str:
    found = shutil.which("pulumi")
    assert found, "the pinned Pulumi CLI is not on PATH (run `make test-release`)"
    return str(Path(found).resolve().parent)


def _python(version: str) -> Path:
    """CPython `version` (3.X) from pyenv, where `make test-matrix` finds it too."""
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    if not found:
        pytest.fail(f"CPython {version} is not installed under ~/.pyenv/versions (pyenv install {version})")
    return Path(found[-1])


#: Environment variables a consumer project inherits: caches, and the certificates a TLS-intercepting
#: proxy needs (Node.js 22 from npm reads only NODE_EXTRA_CA_CERTS, unlike Debian's node).
PASSED = {"GOPATH", "GOCACHE", "GOMODCACHE", "PIP_FIND_LINKS", "PIP_CERT", "XDG_CACHE_HOME", "NODE_EXTRA_CA_CERTS",
          "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"}


# -- a consumer project ----------------------------------------------------------------------------
class Project:
    """A Pulumi project in its own directory with its own PULUMI_HOME and file backend, automatic plugin
    acquisition on, and a PATH of `path` + the pinned CLI (and /usr/bin:/bin unless `system=False`)."""

    def __init__(self, root: Path, name: str, path: list[str | Path], system: bool = True) -> None:
        self.dir = root / name
        self.dir.mkdir(parents=True)
        self.home = root / f"{name}-pulumi-home"
        (root / "state").mkdir(exist_ok=True)
        dirs = [*map(str, path), _pulumi_bin(), *(["/usr/bin", "/bin"] if system else [])]
        self.env = {
            "PATH": os.pathsep.join(dict.fromkeys(dirs)),
            "HOME": os.environ.get("HOME", str(root)),  # npm's, pip's and Go's caches
            "PULUMI_HOME": str(self.home),
            "PULUMI_BACKEND_URL": f"file://{root / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "release-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        for var in os.environ:  # the machine's caches, certificates and proxies, as in a consumer's shell
            if var in PASSED or var.upper() in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
                self.env[var] = os.environ[var]
        assert shutil.which("pulumi-resource-copyai", path=self.env["PATH"]) is None, "no plugin on PATH"

    def write(self, files: dict[str, str]) -> Project:
        for name, text in files.items():
            (self.dir / name).write_text(text)
        return self

    def run(self, *cmd: str | Path, check: bool = True, timeout: float = 600) -> str:
        try:
            done = subprocess.run([str(c) for c in cmd], cwd=self.dir, env=self.env, text=True, capture_output=True,
                                  check=False, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{' '.join(map(str, cmd))} did not end in {timeout} s:\n{exc.stdout!r}\n{exc.stderr!r}")
        out = done.stdout + done.stderr
        if check:
            assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{out}"
        return out

    def pulumi(self, *args: str, check: bool = True) -> str:
        return self.run("pulumi", *args, "--non-interactive", "--color=never", check=check)

    def stack(self, emu: Emulator, **config: str) -> None:
        self.pulumi("stack", "init", "team")
        self.pulumi("config", "set", "copyai:baseUrl", emu.base_url)
        self.pulumi("config", "set", "--secret", "copyai:apiKey", emu.api_key)
        for key, value in config.items():
            self.pulumi("config", "set", key, value)

    def outputs(self) -> dict[str, Any]:
        return dict(json.loads(self.pulumi("stack", "output", "--json")))


GROUP = "https://hooks.example.com/group"


def lifecycle(project: Project, emu: Emulator, downloads: Downloads, hook_url: str) -> str:
    """up (the engine downloads the plugin), a no-change preview, destroy; returns the up's output."""
    project.stack(emu, hookUrl=hook_url)
    before = len(downloads.paths)
    up = project.pulumi("up", "--yes")
    assert downloaded(up), f"the engine did not download the plugin:\n{up}"
    assert "from $PATH" not in up
    assert f"/releases/v{VERSION}/{ARCHIVE}" in downloads.paths[before:], downloads.paths
    listed = project.pulumi("plugin", "ls")
    assert "copyai" in listed and VERSION in listed, listed
    assert (project.home / "plugins" / f"resource-copyai-v{VERSION}" / "pulumi-resource-copyai").is_file()

    state = json.loads(project.pulumi("stack", "export"))["deployment"]["resources"]
    providers = [r["urn"] for r in state if r["type"] == "pulumi:providers:copyai"]
    assert len(providers) == 1, f"the component's webhooks and the program's use one provider: {providers}"
    outs = project.outputs()
    hooks = {h["id"]: (h["url"], h["eventType"], h.get("workflowId")) for h in emu.webhooks()}
    assert hooks[outs["hookId"]] == (hook_url, "workflowRun.completed", "WCFG-1")
    assert {hooks[i] for i in outs["groupIds"].values()} == {
        (GROUP, "workflowRun.started", "WCFG-2"), (GROUP, "workflowRun.failed", "WCFG-2")}
    assert len(hooks) == 3 and len(emu.requests("POST")) == 3

    emu.clear_requests()
    project.pulumi("preview", "--expect-no-changes")
    assert not [r for r in emu.requests() if r["method"] != "GET"]
    project.pulumi("destroy", "--yes")
    assert emu.webhooks() == []
    return up


# -- the programs: one Webhook (url from config) and one WorkflowWebhooks component ---------------------
def yaml_program(name: str, server: str) -> str:
    """Each resource of the package names the plugin's version and download URL (resource options)."""
    options = f"    options: {{version: {VERSION}, pluginDownloadURL: '{server}/releases/v{VERSION}'}}\n"
    return (f"name: {name}\nruntime: yaml\nresources:\n"
            "  hook:\n    type: copyai:index:Webhook\n"
            "    properties: {url: '${hookUrl}', eventType: workflowRun.completed, workflowId: WCFG-1}\n"
            + options +
            "  group:\n    type: copyai:index:WorkflowWebhooks\n"
            f"    properties: {{url: '{GROUP}', eventTypes: [workflowRun.started, workflowRun.failed], "
            "workflowId: WCFG-2}\n"
            + options +
            "outputs:\n  hookId: ${hook.id}\n  groupIds: ${group.webhookIds}\n")


TS_MAIN = textwrap.dedent(f"""\
    import * as pulumi from "@pulumi/pulumi";
    import * as copyai from "{NPM_PACKAGE}";

    const config = new pulumi.Config();
    const hook = new copyai.Webhook("hook", {{
        url: config.require("hookUrl"), eventType: copyai.EventType.WorkflowRunCompleted, workflowId: "WCFG-1",
    }});
    const group = new copyai.WorkflowWebhooks("group", {{
        url: "{GROUP}", workflowId: "WCFG-2",
        eventTypes: [copyai.EventType.WorkflowRunStarted, copyai.EventType.WorkflowRunFailed],
    }});
    export const hookId = hook.id;
    export const groupIds = group.webhookIds;
""")

# `pulumi new typescript`'s tsconfig.json, trimmed
TS_CONFIG = {"compilerOptions": {"strict": True, "outDir": "bin", "target": "es2020", "module": "commonjs",
                                 "moduleResolution": "node", "sourceMap": True, "experimentalDecorators": True,
                                 "forceConsistentCasingInFileNames": True},
             "files": ["index.ts"]}

GO_MAIN = textwrap.dedent(f"""\
    package main

    import (
    \t"{GO_MODULE}/copyai"
    \t"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
    \t"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
    )

    func main() {{
    \tpulumi.Run(func(ctx *pulumi.Context) error {{
    \t\thook, err := copyai.NewWebhook(ctx, "hook", &copyai.WebhookArgs{{
    \t\t\tUrl:        pulumi.String(config.Require(ctx, "hookUrl")),
    \t\t\tEventType:  copyai.EventTypeWorkflowRunCompleted,
    \t\t\tWorkflowId: pulumi.String("WCFG-1"),
    \t\t}})
    \t\tif err != nil {{
    \t\t\treturn err
    \t\t}}
    \t\tgroup, err := copyai.NewWorkflowWebhooks(ctx, "group", &copyai.WorkflowWebhooksArgs{{
    \t\t\tUrl:        pulumi.String("{GROUP}"),
    \t\t\tEventTypes: copyai.EventTypeArray{{copyai.EventTypeWorkflowRunStarted, copyai.EventTypeWorkflowRunFailed}},
    \t\t\tWorkflowId: pulumi.String("WCFG-2"),
    \t\t}})
    \t\tif err != nil {{
    \t\t\treturn err
    \t\t}}
    \t\tctx.Export("hookId", hook.ID())
    \t\tctx.Export("groupIds", group.WebhookIds)
    \t\treturn nil
    \t}})
    }}
""")

PY_MAIN = textwrap.dedent(f"""\
    import pulumi
    import pulumi_copyai_sdk as copyai

    config = pulumi.Config()
    hook = copyai.Webhook("hook", url=config.require("hookUrl"), event_type=copyai.EventType.WORKFLOW_RUN_COMPLETED,
                          workflow_id="WCFG-1")
    group = copyai.WorkflowWebhooks("group", url="{GROUP}", workflow_id="WCFG-2",
                                    event_types=[copyai.EventType.WORKFLOW_RUN_STARTED,
                                                 copyai.EventType.WORKFLOW_RUN_FAILED])
    pulumi.export("hookId", hook.id)
    pulumi.export("groupIds", group.webhook_ids)
""")


# -- the release's files ---------------------------------------------------------------------------
def test_release_files(dist: Path, downloads: Downloads) -> None:
    """Every artifact, named by the version; the checksums hold; every archive verifies; each SDK package
    names the download URL and the version; the runtime wheel carries no emulator."""
    archives = sorted(p.name for p in dist.glob("pulumi-resource-copyai-*.tar.gz"))
    assert archives == sorted(f"pulumi-resource-copyai-v{VERSION}-{name}.tar.gz" for name in PLATFORMS)
    for name in (f"pulumi_copyai-{VERSION}-py3-none-any.whl", f"pulumi_copyai-{VERSION}.tar.gz",
                 f"pulumi_copyai_emulator-{VERSION}-py3-none-any.whl", f"pulumi_copyai_sdk-{VERSION}-py3-none-any.whl",
                 f"pulumi-copyai-copyai-{VERSION}.tgz", f"pulumi-copyai-v{VERSION}-checksums.txt", "release.json"):
        assert (dist / name).is_file(), name
    lines = (dist / f"pulumi-copyai-v{VERSION}-checksums.txt").read_text().splitlines()
    listed = {}
    for line in lines:
        digest, rel = line.split("  ", 1)
        listed[rel] = digest
    assert set(listed) >= {*archives, f"goproxy/{GO_MODULE}/@v/v{VERSION}.zip"}
    for rel, digest in listed.items():
        assert hashlib.sha256((dist / rel).read_bytes()).hexdigest() == digest, rel

    problems = [p for name in archives for p in verify.check_archive(str(dist / name))]
    assert problems == []

    server = downloads.url + "/releases/v${VERSION}"
    expected = {"resource": True, "name": "copyai", "version": VERSION, "server": server}
    with zipfile.ZipFile(dist / f"pulumi_copyai_sdk-{VERSION}-py3-none-any.whl") as whl:
        assert json.loads(whl.read("pulumi_copyai_sdk/pulumi-plugin.json")) == expected
    with tarfile.open(dist / f"pulumi-copyai-copyai-{VERSION}.tgz") as tgz:
        extracted = tgz.extractfile("package/package.json")
        assert extracted is not None
        package = json.load(extracted)
    assert package["name"] == NPM_PACKAGE and package["version"] == VERSION and package["pulumi"] == expected
    with zipfile.ZipFile(dist / "goproxy" / GO_MODULE / "@v" / f"v{VERSION}.zip") as zf:
        assert json.loads(zf.read(f"{GO_MODULE}@v{VERSION}/copyai/pulumi-plugin.json")) == expected
    assert (dist / "goproxy" / GO_MODULE / "@v" / f"v{VERSION}.mod").read_text().startswith(f"module {GO_MODULE}\n")
    with zipfile.ZipFile(dist / f"pulumi_copyai-{VERSION}-py3-none-any.whl") as whl:
        names = whl.namelist()
    assert "pulumi_copyai/plugin/server.py" in names
    assert not [n for n in names if "emulator" in n or n.startswith("tests/")]
    release = json.loads((dist / "release.json").read_text())
    assert release["version"] == VERSION and release["plugin_download_url"] == server


# -- YAML and `pulumi plugin install --server` -------------------------------------------------------
def test_plugin_install_from_server(dist: Path, downloads: Downloads, tmp_path: Path) -> None:
    project = Project(tmp_path, "install", [])
    out = project.pulumi("plugin", "install", "resource", "copyai", VERSION, "--server",
                         downloads.url + "/releases/v${VERSION}")
    assert downloaded(out), out
    listed = project.pulumi("plugin", "ls")
    assert "copyai" in listed and VERSION in listed, listed


def test_yaml_program(dist: Path, downloads: Downloads, emu: Emulator, tmp_path: Path) -> None:
    project = Project(tmp_path, "team-yaml", []).write({"Pulumi.yaml": yaml_program("team-yaml", downloads.url)})
    lifecycle(project, emu, downloads, "https://hooks.example.com/yaml")
    assert not downloaded(project.pulumi("preview")), "downloaded once, then installed"


@pytest.mark.parametrize("python", ["3.10", "3.12", "3.13"])
def test_plugin_on_each_python(python: str, dist: Path, downloads: Downloads, emu: Emulator, tmp_path: Path) -> None:
    """The linux-amd64 archive with CPython 3.X as the only python3 (PATH: python3 and dirname, the CLI)."""
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python3").symlink_to(_python(python))
    (shim / "dirname").symlink_to(shutil.which("dirname") or "/usr/bin/dirname")
    project = Project(tmp_path, "team-yaml", [shim], system=False)
    assert shutil.which("python", path=project.env["PATH"]) is None
    project.write({"Pulumi.yaml": yaml_program("team-yaml", downloads.url)})
    lifecycle(project, emu, downloads, f"https://hooks.example.com/py{python}")
    lib = project.home / "plugins" / f"resource-copyai-v{VERSION}" / "lib"
    tag = "cpython-" + python.replace(".", "")
    compiled = {p.name.split(".")[1] for p in lib.glob("common/pulumi_copyai/__pycache__/*.pyc")}
    assert compiled == {tag}, f"the plugin ran on {compiled}, not {tag}"


def test_no_suitable_python(dist: Path, downloads: Downloads, emu: Emulator, tmp_path: Path) -> None:
    """python3 is 3.9: the engine's error says which Pythons the plugin needs and how to name one;
    PULUMI_COPYAI_PYTHON then picks one."""
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python3").symlink_to(_python("3.9"))
    (shim / "dirname").symlink_to(shutil.which("dirname") or "/usr/bin/dirname")
    project = Project(tmp_path, "team-yaml", [shim], system=False)
    project.write({"Pulumi.yaml": yaml_program("team-yaml", downloads.url)})
    project.stack(emu, hookUrl="https://hooks.example.com/old")
    out = project.pulumi("preview", check=False)
    assert "needs CPython 3.10, 3.11, 3.12 or 3.13" in out and "PULUMI_COPYAI_PYTHON" in out, out
    assert "python3 (3.9" in out, out
    project.env["PULUMI_COPYAI_PYTHON"] = str(_python("3.13"))
    project.pulumi("preview")


def test_first_starts_at_once(dist: Path, tmp_path: Path) -> None:
    """Six plugin processes started at once from a fresh archive (nothing compiled yet) all serve; so do
    later starts. Prints the start times."""
    with tarfile.open(dist / ARCHIVE) as tar:
        tar.extractall(tmp_path / "plugin", filter="data")
    launcher = tmp_path / "plugin" / "pulumi-resource-copyai"
    env = {"PATH": f"{_python('3.12').parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PULUMI_COPYAI_PYTHON": str(_python("3.12"))}

    def start_all(count: int) -> list[float]:
        started = time.monotonic()
        procs = [subprocess.Popen([str(launcher), "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, text=True) for _ in range(count)]
        seconds = []
        try:
            for proc in procs:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                assert line.strip().isdigit(), f"no port: {line!r}"
                seconds.append(round(time.monotonic() - started, 2))
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
        return seconds

    first = start_all(6)
    later = start_all(1)
    print(f"six first starts at once served after {first} s; a later start after {later} s")
    assert list((tmp_path / "plugin" / "lib" / "common" / "pulumi_copyai" / "__pycache__").glob("*.cpython-312.pyc"))


# -- TypeScript from a local npm registry ---------------------------------------------------------------
def npm_tool(spec: str) -> Path:
    """An npm package installed once per version into the cache; returns its node_modules."""
    target = CACHE / "npm-tools" / spec.replace("/", "+")
    if not (target / ".complete").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp.", dir=target.parent))
        try:
            (tmp / "package.json").write_text('{"name": "copyai-npm-tool", "private": true}\n')
            done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", spec], cwd=tmp,
                                  text=True, capture_output=True, check=False)
            assert done.returncode == 0, f"npm install {spec} failed:\n{done.stdout}{done.stderr}"
            (tmp / ".complete").touch()
            if not (target / ".complete").is_file():
                shutil.rmtree(target, ignore_errors=True)
                tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target / "node_modules"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def npm_registry(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Verdaccio 6.8.0 on a loopback port, with the release's npm package published to it; its URL."""
    verdaccio = npm_tool(VERDACCIO) / "verdaccio" / "bin" / "verdaccio"
    home = tmp_path_factory.mktemp("verdaccio")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    (home / "config.yaml").write_text(textwrap.dedent(f"""\
        storage: {home / 'storage'}
        auth:
          htpasswd:
            file: {home / 'htpasswd'}
            max_users: 1
        packages:
          '@pulumi-copyai/*':
            access: $all
            publish: $authenticated
        log: {{type: stdout, format: pretty, level: warn}}
    """))
    log = open(home / "verdaccio.log", "w")
    proc = subprocess.Popen(["node", str(verdaccio), "--config", str(home / "config.yaml"), "--listen",
                             f"127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT, cwd=home)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "-/ping", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (home / "verdaccio.log").read_text()
            time.sleep(0.3)
        user = requests.put(url + "-/user/org.couchdb.user:release", timeout=10,
                            json={"name": "release", "password": "release-password"})
        assert user.status_code == 201, user.text
        (home / "npmrc").write_text(f"//127.0.0.1:{port}/:_authToken={user.json()['token']}\n")
        published = subprocess.run(["npm", "publish", str(dist / f"pulumi-copyai-copyai-{VERSION}.tgz"),
                                    "--registry", url, "--userconfig", str(home / "npmrc"), "--access", "public"],
                                   text=True, capture_output=True, check=False)
        assert published.returncode == 0, published.stdout + published.stderr
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def ts_project(root: Path, name: str, node_bin: Path, registry: str, pulumi: str) -> tuple[Project, str]:
    """A project shaped like `pulumi new typescript`'s, whose .npmrc names the registry of the
    @pulumi-copyai scope, then `npm install @pulumi-copyai/copyai`; returns it and npm's output."""
    project = Project(root, name, [node_bin])
    project.write({
        "Pulumi.yaml": f"name: {name}\nruntime: nodejs\n",
        "package.json": json.dumps({"name": name, "main": "index.ts",
                                    "devDependencies": {"@types/node": "^22", "typescript": "5.9.3"},
                                    "dependencies": {"@pulumi/pulumi": pulumi}}, indent=2),
        "tsconfig.json": json.dumps(TS_CONFIG, indent=2),
        ".npmrc": f"@pulumi-copyai:registry={registry}\n",
        "index.ts": TS_MAIN,
    })
    out = project.run("npm", "install", "--no-audit", "--no-fund", NPM_PACKAGE)
    assert "EBADENGINE" not in out, out
    installed = json.loads((project.dir / "node_modules" / NPM_PACKAGE / "package.json").read_text())
    assert installed["version"] == VERSION
    assert json.loads((project.dir / "package.json").read_text())["dependencies"][NPM_PACKAGE] == f"^{VERSION}"
    project.run("node_modules/.bin/tsc", "--noEmit", "-p", ".")  # the program type-checks against the SDK
    return project, out


def test_typescript_from_npm_registry(npm_registry: str, downloads: Downloads, emu: Emulator, tmp_path: Path) -> None:
    """Node.js 22 (the npm registry's `node` package), @pulumi/pulumi 3.270.0, `npm install @pulumi-copyai/copyai`."""
    node_bin = npm_tool(NODE22) / ".bin"
    project, _ = ts_project(tmp_path, "team-ts", node_bin, npm_registry, PULUMI_NPM)
    assert project.run("node", "--version").startswith("v22.")
    lifecycle(project, emu, downloads, "https://hooks.example.com/ts")


def test_typescript_on_node20(npm_registry: str, downloads: Downloads, emu: Emulator, tmp_path: Path) -> None:
    """This machine's Node.js 20 with @pulumi/pulumi 3.248.0, the newest that supports it: no EBADENGINE,
    and the program previews (the engine downloads the plugin)."""
    node = shutil.which("node")
    assert node
    project, _ = ts_project(tmp_path, "team-ts20", Path(node).parent, npm_registry, PULUMI_NPM_NODE20)
    if not project.run("node", "--version").startswith("v20."):
        pytest.skip("the machine's node is not Node.js 20")
    project.stack(emu, hookUrl="https://hooks.example.com/ts20")
    out = project.pulumi("preview")
    assert downloaded(out) and "copyai:index:Webhook" in out and "from $PATH" not in out, out


# -- Go from a GOPROXY directory --------------------------------------------------------------------------
def test_go_from_goproxy(dist: Path, downloads: Downloads, emu: Emulator, tmp_path: Path) -> None:
    go = shutil.which("go")
    assert go, "Go is needed for this test"
    project = Project(tmp_path, "team-go", [Path(go).parent])
    upstream = os.environ.get("GOPROXY") or "https://proxy.golang.org"
    project.env.update({
        "GOPROXY": f"file://{dist / 'goproxy'},{upstream}",
        "GONOSUMDB": GO_MODULE.split("/")[0],   # a private module: no checksum database knows it
        "GOFLAGS": "-mod=mod",
    })
    # Go caches a module version's content for good: drop what an earlier session cached of this test-only
    # module (its pulumi-plugin.json named another port), as a consumer never meets a re-published version.
    modcache = Path(project.run("go", "env", "GOMODCACHE").strip())
    for cached in (modcache / GO_MODULE.split("/")[0], modcache / "cache" / "download" / GO_MODULE.split("/")[0]):
        if cached.exists():
            for path in [cached, *cached.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o755)
            shutil.rmtree(cached)
    project.write({"Pulumi.yaml": "name: team-go\nruntime: go\n", "main.go": GO_MAIN})
    project.run("go", "mod", "init", "example.com/team-go")
    project.run("go", "get", f"{GO_MODULE}/copyai@v{VERSION}")
    project.run("go", "mod", "tidy")
    assert f"{GO_MODULE} v{VERSION}" in (project.dir / "go.mod").read_text()
    lifecycle(project, emu, downloads, "https://hooks.example.com/go")


# -- Python from the wheel ------------------------------------------------------------------------
def test_python_sdk_from_wheel(dist: Path, downloads: Downloads, emu: Emulator, tmp_path: Path) -> None:
    """`pip install pulumi_copyai_sdk` from the release directory into a fresh venv, activated (PATH): its
    python3 runs the program; the plugin runs on its own packages, whatever the venv holds."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    project = Project(tmp_path, "team-py", [venv / "bin"])
    project.run(venv / "bin" / "pip", "install", "--quiet", "--find-links", str(dist),
                f"pulumi_copyai_sdk=={VERSION}", f"pulumi=={PULUMI_PY}")
    project.write({"Pulumi.yaml": "name: team-py\nruntime: python\n", "__main__.py": PY_MAIN})
    up = lifecycle(project, emu, downloads, "https://hooks.example.com/python")
    assert "ModuleNotFoundError" not in up
