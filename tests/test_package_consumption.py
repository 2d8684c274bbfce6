"""The `copyai` Pulumi package as other teams consume it: Pulumi YAML, TypeScript, Go and Python
programs in temporary directories outside this repository, driven by `pulumi` on the command line
against the emulator, with the plugin found the way docs/package.md says:

- YAML: the plugin tarball (tools/plugin/build.sh) installed with `pulumi plugin install resource copyai
  0.1.0 --file ...` into the project's own PULUMI_HOME; `pulumi-resource-copyai` is not on PATH.
- TypeScript, Go, Python: the `pulumi-resource-copyai` executable of the pip package on PATH (this
  repository's .venv/bin), and the SDKs generated into sdk/: sdk/nodejs compiled and packed
  (tools/npm-pack.sh) and `npm install`ed with @pulumi/pulumi 3.270.0; sdk/go through a replace
  directive; sdk/python pip-installed.

Everything is asserted on what the engine reports (exit codes, stack outputs, `pulumi stack export`)
and on the emulator's state and request log; nothing is mocked.

Durations on 2 shared cores (warm caches): YAML lifecycle 27 s plus 20 s building the plugin tarball
(once per session), YAML two workspaces 17 s; TypeScript lifecycle 56 s plus 23 s packing the SDK and
`npm install` (once), TypeScript two workspaces 22 s; Go lifecycle 53 s with a warm Go build cache
(a cold one adds 2 to 3 minutes for the first compile; COPYAI_SKIP_GO_TEST=1 skips it); Python SDK
12 s. About 4 minutes in all.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK = "copyai:index:Webhook"
PROVIDER = "pulumi:providers:copyai"
GROUP_URL = "https://hooks.example.com/group"
LEGACY = {"url": "https://hooks.example.com/legacy", "eventType": "workflowRun.failed", "workflowId": "WCFG-9"}

# -- the consumer programs ------------------------------------------------------------------------
# Each declares one Webhook (url and eventType from stack config) and one WorkflowWebhooks component
# (started and failed), and exports hookId, hookUrl, groupIds. The *_WORKSPACES programs declare two
# explicit providers, one webhook each.

YAML_MAIN = textwrap.dedent("""\
    name: team-yaml
    runtime: yaml
    resources:
      hook:
        type: copyai:index:Webhook
        properties:
          url: ${hookUrl}
          eventType: ${hookEvent}
          workflowId: WCFG-1
      group:
        type: copyai:index:WorkflowWebhooks
        properties:
          url: https://hooks.example.com/group
          eventTypes: [workflowRun.started, workflowRun.failed]
          workflowId: WCFG-2
    outputs:
      hookId: ${hook.id}
      hookUrl: ${hook.url}
      groupIds: ${group.webhookIds}
""")

YAML_WORKSPACES = textwrap.dedent("""\
    name: team-yaml-workspaces
    runtime: yaml
    resources:
      workspaceA:
        type: pulumi:providers:copyai
        properties:
          apiKey: ${keyA}
          baseUrl: ${baseUrlA}
      workspaceB:
        type: pulumi:providers:copyai
        properties:
          apiKey: ${keyB}
          baseUrl: ${baseUrlB}
      hookA:
        type: copyai:index:Webhook
        properties:
          url: https://hooks.example.com/a
          eventType: workflowRun.completed
        options:
          provider: ${workspaceA}
      hookB:
        type: copyai:index:Webhook
        properties:
          url: https://hooks.example.com/b
          eventType: workflowRun.failed
        options:
          provider: ${workspaceB}
    outputs:
      hookA: ${hookA.id}
      hookB: ${hookB.id}
""")

TS_MAIN = textwrap.dedent("""\
    import * as pulumi from "@pulumi/pulumi";
    import * as copyai from "@pulumi-copyai/copyai";

    const config = new pulumi.Config();
    const hook = new copyai.Webhook("hook", {
        url: config.require("hookUrl"),
        eventType: config.require("hookEvent") as copyai.EventType,
        workflowId: "WCFG-1",
    });
    const group = new copyai.WorkflowWebhooks("group", {
        url: "https://hooks.example.com/group",
        eventTypes: [copyai.EventType.WorkflowRunStarted, copyai.EventType.WorkflowRunFailed],
        workflowId: "WCFG-2",
    });
    export const hookId = hook.id;
    export const hookUrl = hook.url;
    export const groupIds = group.webhookIds;
""")

TS_WORKSPACES = textwrap.dedent("""\
    import * as pulumi from "@pulumi/pulumi";
    import * as copyai from "@pulumi-copyai/copyai";

    const config = new pulumi.Config();
    const workspaceA = new copyai.Provider("workspaceA", {
        apiKey: config.requireSecret("keyA"), baseUrl: config.require("baseUrlA"),
    });
    const workspaceB = new copyai.Provider("workspaceB", {
        apiKey: config.requireSecret("keyB"), baseUrl: config.require("baseUrlB"),
    });
    const webhookA = new copyai.Webhook("hookA", {
        url: "https://hooks.example.com/a", eventType: copyai.EventType.WorkflowRunCompleted,
    }, { provider: workspaceA });
    const webhookB = new copyai.Webhook("hookB", {
        url: "https://hooks.example.com/b", eventType: copyai.EventType.WorkflowRunFailed,
    }, { provider: workspaceB });
    export const hookA = webhookA.id;
    export const hookB = webhookB.id;
""")

TS_CONFIG = {"compilerOptions": {"strict": True, "target": "es2020", "module": "commonjs",
                                 "moduleResolution": "node", "skipLibCheck": True}, "files": ["index.ts"]}

GO_MAIN = textwrap.dedent("""\
    package main

    import (
    \t"github.com/pulumi-copyai/pulumi-copyai/sdk/go/copyai"
    \t"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
    \t"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
    )

    func main() {
    \tpulumi.Run(func(ctx *pulumi.Context) error {
    \t\tcfg := config.New(ctx, "")
    \t\thook, err := copyai.NewWebhook(ctx, "hook", &copyai.WebhookArgs{
    \t\t\tUrl:        pulumi.String(cfg.Require("hookUrl")),
    \t\t\tEventType:  copyai.EventType(cfg.Require("hookEvent")),
    \t\t\tWorkflowId: pulumi.String("WCFG-1"),
    \t\t})
    \t\tif err != nil {
    \t\t\treturn err
    \t\t}
    \t\tgroup, err := copyai.NewWorkflowWebhooks(ctx, "group", &copyai.WorkflowWebhooksArgs{
    \t\t\tUrl:        pulumi.String("https://hooks.example.com/group"),
    \t\t\tEventTypes: copyai.EventTypeArray{copyai.EventTypeWorkflowRunStarted, copyai.EventTypeWorkflowRunFailed},
    \t\t\tWorkflowId: pulumi.String("WCFG-2"),
    \t\t})
    \t\tif err != nil {
    \t\t\treturn err
    \t\t}
    \t\tctx.Export("hookId", hook.ID())
    \t\tctx.Export("hookUrl", hook.Url)
    \t\tctx.Export("groupIds", group.WebhookIds)
    \t\treturn nil
    \t})
    }
""")


# -- a consumer project ---------------------------------------------------------------------------
def _pulumi_bin() -> Path:
    found = shutil.which("pulumi")
    assert found, "the pinned Pulumi CLI is not on PATH (run the tests with `make test`)"
    return Path(found).resolve().parent


class Consumer:
    """A Pulumi project in its own directory, with its own PULUMI_HOME and file backend, run through the
    CLI with a clean environment: the pinned CLI and language hosts, `extra_path`, the system's bin
    directories. No COPYAI_* variables: the provider is configured through stack config only."""

    def __init__(self, root: Path, name: str, extra_path: list[Path]) -> None:
        assert ROOT not in root.parents, "consumer projects live outside the repository"
        self.dir = root / name
        self.dir.mkdir(parents=True)
        (root / "state").mkdir(exist_ok=True)
        path = [*map(str, extra_path), str(_pulumi_bin()), "/usr/local/bin", "/usr/bin", "/bin"]
        self.env = {
            "PATH": os.pathsep.join(dict.fromkeys(path)),
            "HOME": os.environ.get("HOME", str(root)),  # the Go build and module caches, npm's cache
            "PULUMI_HOME": str(root / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{root / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "consumer-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        for var in ("GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOFLAGS", "XDG_CACHE_HOME"):
            if var in os.environ:
                self.env[var] = os.environ[var]
        self.transcript: list[tuple[list[str], str]] = []  # (command, its stdout and stderr)

    def write(self, files: dict[str, str]) -> Consumer:
        for name, text in files.items():
            (self.dir / name).write_text(text)
        return self

    def run(self, *cmd: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(list(cmd), cwd=self.dir, env=self.env, text=True, capture_output=True,
                              check=False, timeout=timeout)
        self.transcript.append((list(cmd), done.stdout + done.stderr))
        if check:
            assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("pulumi", *args, "--non-interactive", "--color=never", check=check)

    def config(self, **values: str) -> None:
        for key, value in values.items():
            self.pulumi("config", "set", key.replace("__", ":"), value)

    def secret(self, key: str, value: str) -> None:
        self.pulumi("config", "set", "--secret", key, value)

    def outputs(self) -> dict[str, Any]:
        return dict(json.loads(self.pulumi("stack", "output", "--json").stdout))

    def export(self, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "export"] + (["--show-secrets"] if show_secrets else [])
        return dict(json.loads(self.pulumi(*args).stdout)["deployment"])

    def webhooks(self) -> dict[str, dict[str, Any]]:
        """The copyai:index:Webhook resources in the state: id -> outputs."""
        return {r["id"]: r["outputs"] for r in self.export().get("resources") or [] if r["type"] == WEBHOOK}


def api_hooks(emu: Emulator) -> dict[str, tuple[str, str, str | None]]:
    return {h["id"]: (h["url"], h["eventType"], h.get("workflowId")) for h in emu.webhooks()}


def methods(emu: Emulator) -> list[str]:
    return sorted(r["method"] for r in emu.requests())


def writes(emu: Emulator) -> list[str]:
    """The POSTs and DELETEs sent, sorted; each provider process that registers a webhook first takes a
    view of the list (a GET, provider/pulumi_copyai/ownership.py): asserted here and left out."""
    sent = [r["method"] for r in emu.requests()]
    if "POST" in sent:
        assert "GET" in sent[:sent.index("POST")], f"a POST without a view of the list before it: {sent}"
    return sorted(m for m in sent if m != "GET")


def assert_key_hidden(consumer: Consumer, stack: str, keys: list[str]) -> None:
    """No API key in the plain `stack export`, in any resource's inputs or outputs of the
    `--show-secrets` export (apart from the copyai provider resources, whose secret config the engine
    itself keeps, encrypted in the plain export), in the stack's config file or in any CLI output."""
    plain = consumer.pulumi("stack", "export").stdout
    for key in keys:
        assert key not in plain
    resources = json.loads(plain)["deployment"]["resources"]
    providers = [r for r in resources if r["type"] == PROVIDER]
    assert providers
    for provider in providers:
        assert "ciphertext" in provider["inputs"]["apiKey"], provider["inputs"]
    shown = consumer.export(show_secrets=True)["resources"]
    revealed = [r for r in shown if r["type"] == PROVIDER and any(k in json.dumps(r) for k in keys)]
    assert revealed, "--show-secrets should reveal the provider's key: the search is looking in the right place"
    for resource in shown:
        if resource["type"] == PROVIDER:
            continue
        text = json.dumps({"inputs": resource.get("inputs"), "outputs": resource.get("outputs")})
        for key in keys:
            assert key not in text, f"the API key is in {resource['urn']}"
    config = (consumer.dir / f"Pulumi.{stack}.yaml").read_text()
    # The config commands carry a key on their command line; no output repeats it (but the exports
    # asked to show secrets).
    outputs = [out for cmd, out in consumer.transcript if "--show-secrets" not in cmd]
    for key in keys:
        assert key not in config
        assert not any(key in out for out in outputs), "a CLI output repeats the API key"


# -- the lifecycle every language goes through ----------------------------------------------------
def lifecycle(consumer: Consumer, emu: Emulator, import_args: tuple[str, ...] = ()) -> str:
    """Bad input, up, no-change preview, a replacing change, refresh after an out-of-band delete,
    import of an existing webhook, secrets, destroy. Returns the `pulumi up` output."""
    consumer.pulumi("stack", "init", "team")
    consumer.config(copyai__baseUrl=emu.base_url, hookUrl="https://hooks.example.com/v1",
                    hookEvent="workflowRun.complete")
    consumer.secret("copyai:apiKey", emu.api_key)

    # A mistyped event type fails at preview, naming the property, and no API call is made.
    emu.clear_requests()
    bad = consumer.pulumi("preview", check=False)
    out = bad.stdout + bad.stderr
    assert bad.returncode != 0, out
    assert "eventType" in out and "did you mean 'workflowRun.completed'" in out, out
    assert emu.requests() == []
    consumer.config(hookEvent="workflowRun.completed")

    # up: one POST per webhook, the right fields at the API, the ids in the outputs.
    up = consumer.pulumi("up", "--yes")
    assert writes(emu) == ["POST"] * 3
    hooks = api_hooks(emu)
    outs = consumer.outputs()
    assert hooks[outs["hookId"]] == ("https://hooks.example.com/v1", "workflowRun.completed", "WCFG-1")
    assert outs["hookUrl"] == "https://hooks.example.com/v1"
    group = outs["groupIds"]
    assert set(group) == {"workflowRun.started", "workflowRun.failed"}
    assert {hooks[i] for i in group.values()} == {
        (GROUP_URL, "workflowRun.started", "WCFG-2"), (GROUP_URL, "workflowRun.failed", "WCFG-2")}
    assert set(hooks) == {outs["hookId"], *group.values()} == set(consumer.webhooks())

    # Nothing to do right after: the preview passes --expect-no-changes without an API call.
    emu.clear_requests()
    consumer.pulumi("preview", "--expect-no-changes")
    assert emu.requests() == []

    # A new url replaces the webhook (Copy.ai has no update): new one registered, old one deleted.
    consumer.config(hookUrl="https://hooks.example.com/v2")
    emu.clear_requests()
    changed = consumer.pulumi("up", "--yes")
    assert "1 replaced" in changed.stdout, changed.stdout
    assert writes(emu) == ["DELETE", "POST"]
    new_id = consumer.outputs()["hookId"]
    hooks = api_hooks(emu)
    assert outs["hookId"] not in hooks
    assert hooks[new_id] == ("https://hooks.example.com/v2", "workflowRun.completed", "WCFG-1")
    assert consumer.outputs()["groupIds"] == group, "the component's webhooks were not touched"

    # A webhook deleted outside Pulumi leaves the state on refresh; the next up registers it again.
    gone = group["workflowRun.started"]
    emu.api("DELETE", f"/webhook/{gone}").raise_for_status()
    assert gone not in api_hooks(emu)
    emu.clear_requests()
    consumer.pulumi("refresh", "--yes")
    assert set(methods(emu)) == {"GET"}  # reads only (the list, and the missing webhook by id)
    assert gone not in consumer.webhooks()
    assert set(consumer.webhooks()) == {new_id, group["workflowRun.failed"]}
    emu.clear_requests()
    consumer.pulumi("up", "--yes")
    assert writes(emu) == ["POST"]
    assert set(api_hooks(emu)) == set(consumer.webhooks())
    assert len(api_hooks(emu)) == 3

    # `pulumi import` adopts a webhook that exists already: read, not registered again.
    created = emu.api("POST", "/webhook", json=LEGACY)
    created.raise_for_status()
    legacy_id = created.json()["data"]["id"]
    emu.clear_requests()
    imported = consumer.pulumi("import", WEBHOOK, "legacy", legacy_id, "--yes", "--protect=false", *import_args)
    assert set(methods(emu)) == {"GET"}  # read, registered nothing
    state = consumer.webhooks()
    assert {k: state[legacy_id].get(k) for k in LEGACY} == LEGACY
    assert len(api_hooks(emu)) == 4

    assert_key_hidden(consumer, "team", [emu.api_key])

    # destroy deletes every webhook of the stack, the adopted one too.
    emu.clear_requests()
    consumer.pulumi("destroy", "--yes")
    assert methods(emu) == ["DELETE"] * 4
    assert emu.webhooks() == []
    assert consumer.webhooks() == {}
    return up.stdout + imported.stdout


def workspaces(consumer: Consumer, a: Emulator, b: Emulator) -> None:
    """Two explicit providers with different keys against two emulators: one webhook in each."""
    consumer.pulumi("stack", "init", "team")
    consumer.config(baseUrlA=a.base_url, baseUrlB=b.base_url)
    consumer.secret("keyA", a.api_key)
    consumer.secret("keyB", b.api_key)
    consumer.pulumi("up", "--yes")
    calls = a.requests() + b.requests()  # before listing the webhooks, which the log records too
    assert writes(a) == ["POST"] and writes(b) == ["POST"]
    assert all(r["status"] < 400 for r in calls), f"a key went to the wrong workspace: {calls}"
    outs = consumer.outputs()
    assert api_hooks(a) == {outs["hookA"]: ("https://hooks.example.com/a", "workflowRun.completed", None)}
    assert api_hooks(b) == {outs["hookB"]: ("https://hooks.example.com/b", "workflowRun.failed", None)}
    assert len([r for r in consumer.export()["resources"] if r["type"] == PROVIDER]) == 2
    assert_key_hidden(consumer, "team", [a.api_key, b.api_key])
    consumer.pulumi("destroy", "--yes")
    assert a.webhooks() == [] and b.webhooks() == []


# -- fixtures -------------------------------------------------------------------------------------
def _new_key() -> str:
    return f"copyai-key-{secrets.token_hex(12)}"


@pytest.fixture(scope="module")
def workspace_a() -> Iterator[Emulator]:
    with Emulator(api_key=_new_key()) as emu:
        yield emu


@pytest.fixture(scope="module")
def workspace_b() -> Iterator[Emulator]:
    with Emulator(api_key=_new_key()) as emu:
        yield emu


@pytest.fixture
def a(workspace_a: Emulator) -> Emulator:
    workspace_a.reset()
    return workspace_a


@pytest.fixture
def b(workspace_b: Emulator) -> Emulator:
    workspace_b.reset()
    return workspace_b


@pytest.fixture(scope="session")
def plugin_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin tarball as `make plugin` builds it."""
    out = tmp_path_factory.mktemp("plugin-dist")
    done = subprocess.run([str(ROOT / "tools" / "plugin" / "build.sh"), str(out)], text=True,
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


#: The npm packages of a TypeScript consumer, besides the SDK (the pins of scripts/node-deps.sh).
NPM_PINS = ["@pulumi/pulumi@3.270.0", "typescript@5.9.3", "@types/node@20.17.58"]


@pytest.fixture(scope="session")
def npm_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdk/nodejs compiled with tsc against @pulumi/pulumi 3.270.0 and packed (tools/npm-pack.sh, as
    `make plugin` builds dist/pulumi-copyai-copyai-0.1.0.tgz)."""
    out = tmp_path_factory.mktemp("npm-dist")
    done = subprocess.run([str(ROOT / "tools" / "npm-pack.sh"), str(out)], text=True, capture_output=True,
                          check=False)
    assert done.returncode == 0, f"the generated TypeScript SDK does not build:\n{done.stdout}\n{done.stderr}"
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def ts_dependencies(tmp_path_factory: pytest.TempPathFactory, npm_sdk: Path) -> Path:
    """A consumer's `npm install` of @pulumi/pulumi 3.270.0 and the SDK package, done once (from npm's
    cache when it can); every TypeScript project of the session links this node_modules."""
    deps = tmp_path_factory.mktemp("ts-deps")
    (deps / "package.json").write_text(json.dumps({"name": "ts-deps", "private": True}))
    done = subprocess.run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error",
                           "--save-exact", *NPM_PINS, str(npm_sdk)], cwd=deps, text=True, capture_output=True,
                          check=False)
    assert done.returncode == 0, f"npm install failed:\n{done.stdout}\n{done.stderr}"
    sdk = deps / "node_modules" / "@pulumi-copyai" / "copyai"
    assert (sdk / "index.js").is_file() and (sdk / "index.d.ts").is_file()
    assert not (sdk / "node_modules").exists(), "the SDK shares the project's @pulumi/pulumi"
    return deps


def yaml_consumer(root: Path, name: str, tarball: Path) -> Consumer:
    """A YAML project whose plugin is installed from the tarball (nothing named pulumi-resource-copyai on PATH)."""
    consumer = Consumer(root, name, extra_path=[])
    assert shutil.which("pulumi-resource-copyai", path=consumer.env["PATH"]) is None
    consumer.pulumi("plugin", "install", "resource", "copyai", "0.1.0", "--file", str(tarball))
    listed = consumer.pulumi("plugin", "ls").stdout
    assert "copyai" in listed and "0.1.0" in listed, listed
    return consumer


def ts_consumer(root: Path, name: str, ts_dependencies: Path, program: str) -> Consumer:
    """A TypeScript project with @pulumi/pulumi and the SDK package installed (a link to the session's
    `npm install`), the plugin from the pip package on PATH."""
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / "pulumi-resource-copyai").exists()
    node = Path(shutil.which("node") or "/usr/bin/node").parent
    consumer = Consumer(root, name, extra_path=[venv_bin, node])
    package = json.loads((ts_dependencies / "package.json").read_text())
    package["dependencies"] = {name: f"file:{(ts_dependencies / spec[5:]).resolve()}" if spec.startswith("file:")
                               else spec for name, spec in package["dependencies"].items()}
    consumer.write({
        "Pulumi.yaml": f"name: {name}\nruntime: nodejs\n",
        "package.json": json.dumps({**package, "name": name, "main": "index.ts"}, indent=2),
        "tsconfig.json": json.dumps(TS_CONFIG, indent=2),
        "index.ts": program,
    })
    (consumer.dir / "node_modules").symlink_to(ts_dependencies / "node_modules")
    # The program type-checks against the SDK's declarations (the runtime's ts-node only transpiles).
    consumer.run("node_modules/.bin/tsc", "--noEmit", "-p", ".")
    return consumer


# -- the tests ------------------------------------------------------------------------------------
@pytest.mark.timeout(600)
def test_yaml_program_lifecycle(a: Emulator, tmp_path: Path, plugin_tarball: Path) -> None:
    consumer = yaml_consumer(tmp_path, "team-yaml", plugin_tarball).write({"Pulumi.yaml": YAML_MAIN})
    out = lifecycle(consumer, a)
    assert "from $PATH" not in out, "the plugin must come from the installed tarball"
    assert "https://hooks.example.com/legacy" in out, "import prints the YAML declaration of the adopted webhook"


@pytest.mark.timeout(600)
def test_yaml_program_two_workspaces(a: Emulator, b: Emulator, tmp_path: Path, plugin_tarball: Path) -> None:
    consumer = yaml_consumer(tmp_path, "team-yaml-workspaces", plugin_tarball)
    workspaces(consumer.write({"Pulumi.yaml": YAML_WORKSPACES}), a, b)


@pytest.mark.timeout(900)
def test_typescript_program_lifecycle(a: Emulator, tmp_path: Path, ts_dependencies: Path) -> None:
    consumer = ts_consumer(tmp_path, "team-ts", ts_dependencies, TS_MAIN)
    # The v3.68 Node.js host has no GenerateProgram, so `pulumi import` runs without printing code.
    out = lifecycle(consumer, a, import_args=("--generate-code=false",))
    assert "using pulumi-resource-copyai from $PATH" in out


@pytest.mark.timeout(900)
def test_typescript_program_two_workspaces(a: Emulator, b: Emulator, tmp_path: Path, ts_dependencies: Path) -> None:
    workspaces(ts_consumer(tmp_path, "team-ts-workspaces", ts_dependencies, TS_WORKSPACES), a, b)


@pytest.mark.skipif(bool(os.environ.get("COPYAI_SKIP_GO_TEST")), reason="COPYAI_SKIP_GO_TEST is set")
@pytest.mark.timeout(900)
def test_go_program(a: Emulator, tmp_path: Path) -> None:
    """The generated Go SDK through the Go language host (v3.62.0), the same lifecycle. Each run
    compiles the program: the first about 90 s on 2 cores, later ones hit the Go build cache."""
    go = shutil.which("go")
    assert go, "Go is needed for the pinned toolchain and for this test"
    consumer = Consumer(tmp_path, "team-go", extra_path=[Path(sys.executable).parent, Path(go).parent])
    sdk_go = ROOT / "sdk" / "go"
    consumer.write({
        "Pulumi.yaml": "name: team-go\nruntime: go\n",
        "go.mod": textwrap.dedent(f"""\
            module example.com/team-go

            go 1.26.6

            require (
            \tgithub.com/pulumi-copyai/pulumi-copyai/sdk/go v0.1.0
            \tgithub.com/pulumi/pulumi/sdk/v3 v3.274.1
            )

            replace github.com/pulumi-copyai/pulumi-copyai/sdk/go => {sdk_go}
        """),
        "main.go": GO_MAIN,
    })
    consumer.run("go", "mod", "tidy")
    # The v3.62 Go host has no GenerateProgram either.
    out = lifecycle(consumer, a, import_args=("--generate-code=false",))
    assert "using pulumi-resource-copyai from $PATH" in out


PY_MAIN = textwrap.dedent("""\
    import pulumi
    import pulumi_copyai_sdk as copyai

    config = pulumi.Config()
    hook = copyai.Webhook("hook", url=config.require("hookUrl"), event_type=config.require("hookEvent"),
                          workflow_id="WCFG-1")
    group = copyai.WorkflowWebhooks("group", url="https://hooks.example.com/group", workflow_id="WCFG-2",
                                    event_types=[copyai.EventType.WORKFLOW_RUN_STARTED,
                                                 copyai.EventType.WORKFLOW_RUN_FAILED])
    pulumi.export("hookId", hook.id)
    pulumi.export("hookUrl", hook.url)
    pulumi.export("groupIds", group.webhook_ids)
""")


@pytest.mark.timeout(600)
def test_python_sdk_program(a: Emulator, tmp_path: Path) -> None:
    """The generated Python SDK (sdk/python, `pulumi_copyai_sdk`) through the Python language host:
    up, no-change preview, destroy. The SDK is pip-installed into a directory on PYTHONPATH; the
    program runs on this repository's venv (which has `pulumi`), whose bin also holds the plugin."""
    site, source = tmp_path / "site", tmp_path / "sdk-python"
    shutil.copytree(ROOT / "sdk" / "python", source)  # pip builds in the source tree: not in sdk/
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--target", str(site), str(source)],
                          text=True, capture_output=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    consumer = Consumer(tmp_path, "team-py", extra_path=[Path(sys.executable).parent])
    consumer.env["PYTHONPATH"] = str(site)
    consumer.write({"Pulumi.yaml": "name: team-py\nruntime: python\n", "__main__.py": PY_MAIN})
    consumer.pulumi("stack", "init", "team")
    consumer.config(copyai__baseUrl=a.base_url, hookUrl="https://hooks.example.com/py",
                    hookEvent="workflowRun.completed")
    consumer.secret("copyai:apiKey", a.api_key)
    consumer.pulumi("up", "--yes")
    assert writes(a) == ["POST"] * 3
    outs = consumer.outputs()
    hooks = api_hooks(a)
    assert hooks[outs["hookId"]] == ("https://hooks.example.com/py", "workflowRun.completed", "WCFG-1")
    assert {hooks[i] for i in outs["groupIds"].values()} == {
        (GROUP_URL, "workflowRun.started", "WCFG-2"), (GROUP_URL, "workflowRun.failed", "WCFG-2")}
    a.clear_requests()
    consumer.pulumi("preview", "--expect-no-changes")
    assert a.requests() == []
    assert_key_hidden(consumer, "team", [a.api_key])
    consumer.pulumi("destroy", "--yes")
    assert methods(a) == ["DELETE"] * 3
    assert a.webhooks() == []


TS_FUNCTIONS = textwrap.dedent("""\
    import * as copyai from "@pulumi-copyai/copyai";

    const hand = copyai.getWebhooksOutput({urlPrefix: "https://hooks.example.com/hand/"});
    export const count = hand.ids.apply(ids => ids.length);
    export const ids = hand.ids;
    export const first = hand.ids.apply(ids => copyai.getWebhook({id: ids[0]})).apply(h => h.url);
""")


@pytest.mark.timeout(900)
def test_typescript_program_reads_the_workspace(a: Emulator, tmp_path: Path, ts_dependencies: Path) -> None:
    """getWebhooks across pages (150 webhooks) and getWebhook, from the generated TypeScript SDK."""
    made = [a.api("POST", "/webhook", json={"url": f"https://hooks.example.com/hand/{i}",
                                            "eventType": "workflowRun.completed"}).json()["data"]["id"]
            for i in range(150)]
    consumer = ts_consumer(tmp_path, "team-ts-functions", ts_dependencies, TS_FUNCTIONS)
    consumer.pulumi("stack", "init", "team")
    consumer.config(copyai__baseUrl=a.base_url)
    consumer.secret("copyai:apiKey", a.api_key)
    a.clear_requests()
    consumer.pulumi("up", "--yes")
    outs = consumer.outputs()
    assert outs["count"] == 150 and outs["ids"] == made
    assert outs["first"] == "https://hooks.example.com/hand/0"
    assert writes(a) == [], "a data source registers and deletes nothing"
    for hook in made:
        a.api("DELETE", f"/webhook/{hook}")
