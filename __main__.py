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

import os

import pulumi

from pulumi_copyai import CopyAIWebhook, EventType, WorkflowWebhooks

if pulumi.Config("copyai").get_secret("apiKey") is not None and os.environ.get("PULUMI_CONFIG_PASSPHRASE") == "":
    # scripts/env.sh's offline demo encrypts secrets with an empty passphrase: fine for the emulator's
    # key, but a real key stored that way can be decrypted by anyone who gets the stack's config file.
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

extra = {
    spec["name"]: CopyAIWebhook(
        spec["name"], url=spec["url"], event_type=spec["eventType"], workflow_id=spec.get("workflowId")
    )
    for spec in config.get_object("extraWebhooks") or []
}

pulumi.export("pipeline_webhook_ids", pipeline.webhook_ids)
pulumi.export("alerts_webhook_id", alerts.id)
pulumi.export("billing_webhook_id", billing.id)
pulumi.export("extra_webhook_ids", {name: hook.id for name, hook in extra.items()})
