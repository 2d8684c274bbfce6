"""Example stack: the Copy.ai webhooks of a platform team.

- the content pipeline's endpoint hears its workflow start, complete and fail;
- an alerting endpoint hears every failed run of every workflow;
- billing hears when the workspace reaches its credit limit;
- `copyai-webhooks:receiverToken` (secret, optional) is appended to every URL as `?token=...`, and
  the URLs then stay secret in the state and in outputs;
- the stack refuses a `copyai:apiKey` stored under scripts/env.sh's empty demo passphrase;
- more webhooks can be declared in stack config under `copyai-webhooks:extraWebhooks`, e.g.
  pulumi config set --path 'extraWebhooks[0].name' audit
  pulumi config set --path 'extraWebhooks[0].url' https://audit.example.com/copyai
  pulumi config set --path 'extraWebhooks[0].eventType' workflowRun.completed
"""

import difflib
import os
import shlex
from typing import Any
from urllib.parse import urlsplit

import pulumi

from pulumi_copyai import CopyAIWebhook, EventType, WorkflowWebhooks

copyai = pulumi.Config("copyai")
on_loopback = urlsplit(copyai.get("baseUrl") or "").hostname in ("127.0.0.1", "localhost", "::1")
if copyai.get_secret("apiKey") is not None and os.environ.get("PULUMI_CONFIG_PASSPHRASE") == "" and not on_loopback:
    # scripts/env.sh's offline demo encrypts secrets with an empty passphrase: fine for the key of an emulator
    # on this machine (the demo stack `dev` keeps it so), but a real key stored that way can be decrypted by
    # anyone who gets the stack's config file.
    raise pulumi.RunError(
        f"copyai:apiKey is set in stack {pulumi.get_stack()!r}, whose secrets use an empty passphrase, so anyone "
        f"with Pulumi.{pulumi.get_stack()}.yaml can read the key. Remove it (`pulumi config rm copyai:apiKey`), "
        "then either export COPYAI_API_KEY (stored nowhere), or use a stack with a passphrase of your own: "
        "`export PULUMI_CONFIG_PASSPHRASE=<yours>; pulumi stack init prod` (see README, Configuration)"
    )

config = pulumi.Config()
receiver = config.require("receiverUrl").rstrip("/")
workflow_id = config.require("workflowId")
token = config.get_secret("receiverToken")


def endpoint(path: str) -> pulumi.Input[str]:
    """The receiver URL for `path`, carrying the secret token when one is configured."""
    if token is None:
        return f"{receiver}/{path}"
    return pulumi.Output.concat(receiver, "/", path, "?token=", token)


pipeline = WorkflowWebhooks("content-pipeline", url=endpoint("pipeline"), workflow_id=workflow_id)

alerts = CopyAIWebhook("all-failed-runs", url=endpoint("alerts"), event_type=EventType.WORKFLOW_RUN_FAILED)

billing = CopyAIWebhook(
    "credit-limit",
    url=endpoint("billing"),
    event_type=EventType.WORKFLOW_CREDIT_LIMIT_REACHED,
    # Never two live webhooks for billing, even for a moment while one is replaced.
    opts=pulumi.ResourceOptions(delete_before_replace=True),
)

EXTRA_FIELDS = {"name": True, "url": True, "eventType": True, "workflowId": False}  # field: required


def extra_webhooks(specs: Any) -> list[dict[str, Any]]:
    """The `extraWebhooks` entries, each checked: a message naming the entry, the field and the fix, not a KeyError."""
    if specs is None:
        return []
    if not isinstance(specs, list):
        raise pulumi.RunError("copyai-webhooks:extraWebhooks must be a list of objects with name, url, eventType and "
                              "optionally workflowId, e.g. pulumi config set --path 'extraWebhooks[0].name' audit")
    for i, spec in enumerate(specs):
        path = f"extraWebhooks[{i}]"
        where = f"copyai-webhooks:{path}"
        if not isinstance(spec, dict):
            raise pulumi.RunError(f"{where} must be an object with name, url, eventType and optionally workflowId, "
                                  f"got {type(spec).__name__}")
        for field in spec:
            if field not in EXTRA_FIELDS:
                guess = difflib.get_close_matches(field.replace("_", "").lower(),
                                                  [f.lower() for f in EXTRA_FIELDS], n=1, cutoff=0.6)
                known = next((f for f in EXTRA_FIELDS if guess and f.lower() == guess[0]), None)
                hint = f"did you mean {known!r}? " if known else ""
                fix = known or "<field>"
                raise pulumi.RunError(
                    f"{where} has the field {field!r}, which is not one of {', '.join(EXTRA_FIELDS)}: {hint}"
                    f"Rename it: pulumi config rm --path '{path}.{field}' && "
                    f"pulumi config set --path '{path}.{fix}' {shlex.quote(str(spec[field]))}")
        for field, required in EXTRA_FIELDS.items():
            if required and spec.get(field) in (None, ""):
                raise pulumi.RunError(f"{where} has no {field!r}: pulumi config set --path "
                                      f"'{path}.{field}' <value>")
    return specs


extra = {
    spec["name"]: CopyAIWebhook(
        spec["name"], url=spec["url"], event_type=spec["eventType"], workflow_id=spec.get("workflowId")
    )
    for spec in extra_webhooks(config.get_object("extraWebhooks"))
}

pulumi.export("pipeline_webhook_ids", pipeline.webhook_ids)
pulumi.export("alerts_webhook_id", alerts.id)
pulumi.export("billing_webhook_id", billing.id)
pulumi.export("extra_webhook_ids", {name: hook.id for name, hook in extra.items()})
