"""The toolchain works: the pinned CLI runs a trivial Python, TypeScript and YAML project through its
language host (pulumi-language-python, -nodejs, -yaml beside the CLI): `pulumi up`, `pulumi preview
--expect-no-changes`, `pulumi destroy`, asserting on what the engine prints."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.engine import ROOT, file_backend_env, pulumi_cli, python_env

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

PINNED_CLI = "v3.274.1"

PYTHON_MAIN = textwrap.dedent('''
    import pulumi
    from pulumi.dynamic import CreateResult, Resource, ResourceProvider


    class NoIOProvider(ResourceProvider):
        def create(self, props):
            return CreateResult(f"thing-{props['value']}", {"value": props["value"]})


    class Thing(Resource):
        value: pulumi.Output[str]

        def __init__(self, name, value):
            super().__init__(NoIOProvider(), name, {"value": value})


    thing = Thing("thing", "42")
    pulumi.export("thing_id", thing.id)
    pulumi.export("value", thing.value)
    pulumi.export("greeting", "hello " + pulumi.Config().require("who"))
''')

TYPESCRIPT_MAIN = textwrap.dedent('''
    import * as pulumi from "@pulumi/pulumi";

    class Thing extends pulumi.ComponentResource {
        public readonly label: pulumi.Output<string>;

        constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
            super("smoke:index:Thing", name, {}, opts);
            this.label = pulumi.output(`thing-${name}`);
            this.registerOutputs({ label: this.label });
        }
    }

    const config = new pulumi.Config();
    const thing = new Thing("thing");
    export const label: pulumi.Output<string> = thing.label;
    export const greeting: string = `hello ${config.require("who")}`;
''')

TSCONFIG = {"compilerOptions": {"strict": True, "target": "es2020", "module": "commonjs",
                                "moduleResolution": "node", "types": ["node"]}, "files": ["index.ts"]}

YAML_PROJECT = textwrap.dedent('''
    name: smoke-yaml
    runtime: yaml
    config:
      who:
        type: string
    variables:
      greeting:
        fn::join: ["", ["hello ", "${who}"]]
    outputs:
      greeting: ${greeting}
      encoded:
        fn::toBase64: ${greeting}
      hidden:
        fn::secret: ${greeting}
''').lstrip()


def run_lifecycle(project: Path, who: str, resources: int) -> tuple[dict[str, Any], str]:
    """up, preview --expect-no-changes, destroy in `project`; asserts on the engine's printed summaries and
    returns the stack outputs after `up` and what `up` printed."""
    env = {**file_backend_env(project / ".state"), **python_env()}
    pulumi_cli(project, "stack", "init", "dev", env=env)
    pulumi_cli(project, "config", "set", "who", who, env=env)

    up = pulumi_cli(project, "up", "--yes", "--skip-preview", env=env).stdout
    assert re.search(rf"Resources:\n\s+\+ {resources} created\n", up), up
    assert re.search(rf'greeting\s*: "hello {who}"', up), up  # the Outputs: block
    outputs: dict[str, Any] = json.loads(pulumi_cli(project, "stack", "output", "--json", "--show-secrets",
                                                    env=env).stdout)
    assert outputs["greeting"] == f"hello {who}"

    preview = pulumi_cli(project, "preview", "--expect-no-changes", env=env).stdout
    assert re.search(rf"Resources:\n\s+{resources} unchanged\n", preview), preview

    destroy = pulumi_cli(project, "destroy", "--yes", env=env).stdout
    assert re.search(rf"Resources:\n\s+- {resources} deleted\n", destroy), destroy
    assert json.loads(pulumi_cli(project, "stack", "export", env=env).stdout)["deployment"].get("resources") is None
    return outputs, up


def test_pinned_cli_and_hosts_are_first_on_path() -> None:
    out = subprocess.run(["pulumi", "version"], capture_output=True, text=True, check=True).stdout.strip()
    assert out == PINNED_CLI
    cli_dir = Path(shutil.which("pulumi") or "").parent
    for plugin in ("pulumi-language-python", "pulumi-language-python-exec", "pulumi-language-nodejs",
                   "pulumi-language-yaml", "pulumi-resource-pulumi-python"):
        assert (cli_dir / plugin).exists(), f"{plugin} must sit beside the CLI in {cli_dir}"


def test_python_project(tmp_path: Path) -> None:
    project = tmp_path / "smoke-python"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: smoke-python\nruntime: python\n")
    (project / "__main__.py").write_text(PYTHON_MAIN)
    outputs, _ = run_lifecycle(project, "python", resources=2)  # the stack and the dynamic resource
    assert outputs == {"thing_id": "thing-42", "value": "42", "greeting": "hello python"}


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The pinned @pulumi/pulumi, typescript and @types/node (scripts/node-deps.sh, cached per pin set)."""
    done = subprocess.run([str(ROOT / "scripts" / "node-deps.sh")], capture_output=True, text=True, check=False,
                          timeout=600)
    assert done.returncode == 0, f"scripts/node-deps.sh failed:\n{done.stderr}"
    path = Path(done.stdout.strip().splitlines()[-1])
    assert (path / "@pulumi" / "pulumi" / "package.json").exists(), path
    return path


def test_typescript_project(tmp_path: Path, node_modules: Path) -> None:
    # The v3.68 Node.js host runs index.ts with the npm SDK's vendored ts-node and the project's typescript
    # (type-checked): no build step.
    project = tmp_path / "smoke-ts"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: smoke-ts\nruntime: nodejs\n")
    (project / "package.json").write_text(json.dumps({"name": "smoke-ts", "main": "index.ts", "private": True}))
    (project / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    (project / "index.ts").write_text(TYPESCRIPT_MAIN)
    (project / "node_modules").symlink_to(node_modules)
    version = json.loads((node_modules / "@pulumi" / "pulumi" / "package.json").read_text())["version"]
    assert version == "3.270.0"
    outputs, _ = run_lifecycle(project, "typescript", resources=2)  # the stack and the component
    assert outputs == {"label": "thing-thing", "greeting": "hello typescript"}


def test_typescript_type_errors_fail_the_update(tmp_path: Path, node_modules: Path) -> None:
    project = tmp_path / "smoke-ts-error"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: smoke-ts-error\nruntime: nodejs\n")
    (project / "package.json").write_text(json.dumps({"name": "smoke-ts-error", "main": "index.ts"}))
    (project / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    (project / "index.ts").write_text('export const n: number = "not a number";\n')
    (project / "node_modules").symlink_to(node_modules)
    env = file_backend_env(project / ".state")
    pulumi_cli(project, "stack", "init", "dev", env=env)
    preview = pulumi_cli(project, "preview", env=env, ok=False)
    assert preview.returncode != 0
    assert "Type 'string' is not assignable to type 'number'" in preview.stdout + preview.stderr


def test_yaml_project(tmp_path: Path) -> None:
    project = tmp_path / "smoke-yaml"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(YAML_PROJECT)
    outputs, up = run_lifecycle(project, "yaml", resources=1)  # the stack
    assert re.search(r'hidden\s*: \[secret\]', up), up
    assert outputs == {"greeting": "hello yaml", "encoded": "aGVsbG8geWFtbA==", "hidden": "hello yaml"}
