"""`copyai-recover`: settle the webhooks a killed `pulumi up` left half-done, with no duplicate and no orphan.

When `pulumi up` dies mid-run (SIGKILL, a lost CI runner), the state keeps "pending creates": webhooks
whose POST was sent but whose id never reached the state. Some were registered at Copy.ai, some not.
This command matches each pending create against the API's webhook list (same url, event type and
workflow, not owned by another resource of the stack), writes the ones it finds into the state as
ordinary resources with their ids, drops the rest (they were never registered), imports the edited
state (`pulumi stack import`), and checks it with `pulumi refresh`. The stack is then ready for
`pulumi up`, which registers what is still missing. Pending operations of other resource types are
left as they are.

    copyai-recover [--stack NAME] [--cwd PROJECT_DIR] [--dry-run]

It reads `copyai:apiKey`/`copyai:baseUrl` like the provider (stack config, then COPYAI_API_KEY /
COPYAI_BASE_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from .client import CopyAIClient, Webhook
from .provider import OUTPUTS
from .settings import CONFIG_KEYS, Settings

TYPE_SUFFIX = "dynamic/copyai:CopyAIWebhook"


@dataclass
class Plan:
    imports: list[tuple[str, str]]  # (urn, webhook id)
    clears: list[str]  # urns never registered
    others: int  # pending operations of other kinds (refresh settles them)


class Pulumi:
    """The few Pulumi CLI calls recovery needs (none of them runs the program)."""

    def __init__(self, stack: str | None, cwd: str | None) -> None:
        self.stack = stack
        self.cwd = cwd

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["pulumi", *args, "--non-interactive"] + (["--stack", self.stack] if self.stack else [])
        done = subprocess.run(cmd, cwd=self.cwd, text=True, capture_output=True, check=False)
        if check and done.returncode != 0:
            raise SystemExit(f"copyai-recover: `pulumi {' '.join(args)}` failed:\n{done.stderr or done.stdout}")
        return done

    def config(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key in CONFIG_KEYS:
            done = self.run("config", "get", f"copyai:{key}", check=False)
            if done.returncode == 0:
                values[f"copyai:{key}"] = done.stdout.strip()
        return values


SECRET_SIG = "4dabf18193072939515e22adb298388d"


def _plain(value: Any) -> Any:
    """A value of `pulumi stack export --show-secrets`, with its secret wrapper removed."""
    if isinstance(value, dict) and value.get(SECRET_SIG) and "plaintext" in value:
        return json.loads(value["plaintext"])
    return value


def plan(deployment: dict[str, Any], hooks: list[Webhook]) -> Plan:
    """Match pending creates of CopyAIWebhook to unowned webhooks at the API.

    `deployment` comes from `pulumi stack export --show-secrets`, so a secret url can be matched.
    """
    owned = {r.get("id") for r in deployment.get("resources") or [] if r["type"].endswith(TYPE_SUFFIX)}
    free = [h for h in hooks if h.id not in owned]
    imports: list[tuple[str, str]] = []
    clears: list[str] = []
    others = 0
    for op in deployment.get("pending_operations") or []:
        res = op.get("resource") or {}
        if op.get("type") != "creating" or not str(res.get("type", "")).endswith(TYPE_SUFFIX):
            others += 1
            continue
        inputs = {k: _plain(v) for k, v in (res.get("inputs") or {}).items()}
        if inputs.get("import_id"):
            match = next((h for h in free if h.id == inputs["import_id"]), None)
        else:
            match = next((h for h in free if h.matches(inputs.get("url", ""), inputs.get("event_type", ""),
                                                          inputs.get("workflow_id"))), None)
        if match is None:
            clears.append(res["urn"])
        else:
            free.remove(match)
            imports.append((res["urn"], match.id))
    return Plan(imports, clears, others)


def apply(deployment: dict[str, Any], result: Plan) -> dict[str, Any]:
    """The deployment with matched pending creates turned into resources and the others dropped."""
    ids = dict(result.imports)
    settled = set(ids) | set(result.clears)
    resources = list(deployment.get("resources") or [])
    kept_ops = []
    for op in deployment.get("pending_operations") or []:
        res = op.get("resource") or {}
        if res.get("urn") not in settled or op.get("type") != "creating":
            kept_ops.append(op)
            continue
        if res["urn"] in ids:
            inputs = res.get("inputs") or {}
            outputs = {k: inputs.get(k) for k in (*OUTPUTS, "__provider") if inputs.get(k) is not None}
            resources.append({**res, "id": ids[res["urn"]], "outputs": outputs})
    return {**deployment, "resources": resources, "pending_operations": kept_ops}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="copyai-recover", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", help="the stack (default: the selected one)")
    parser.add_argument("--cwd", help="the Pulumi project directory (default: the current one)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be done, change nothing")
    args = parser.parse_args(argv)

    pulumi = Pulumi(args.stack, args.cwd)
    exported = json.loads(pulumi.run("stack", "export").stdout)  # secrets stay encrypted: this is re-imported
    deployment = exported.get("deployment") or {}
    pending = deployment.get("pending_operations") or []
    if not pending:
        print("copyai-recover: no pending operations; nothing to recover")
        return
    settings = Settings.resolve(pulumi.config())
    client = CopyAIClient(settings.api_key, settings.base_url, timeout=settings.timeout)
    revealed = json.loads(pulumi.run("stack", "export", "--show-secrets").stdout).get("deployment") or {}
    result = plan(revealed, list(client.iter_webhooks()))
    for urn, webhook_id in result.imports:
        print(f"import  {urn}  ->  webhook {webhook_id} (registered before the interruption)")
    for urn in result.clears:
        print(f"clear   {urn}  (never registered; `pulumi up` will register it)")
    if result.others:
        print(f"refresh {result.others} other pending operation(s)")
    if args.dry_run:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({**exported, "deployment": apply(deployment, result)}, f)
    try:
        pulumi.run("stack", "import", "--file", f.name)
    finally:
        os.unlink(f.name)
    pulumi.run("refresh", "--yes", "--skip-preview")
    print("copyai-recover: done; run `pulumi up` to register what is still missing")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
