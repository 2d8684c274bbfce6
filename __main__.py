"""Example stack: the Copy.ai webhooks of a platform team.

- the content pipeline's endpoint hears its workflow start, complete and fail;
- an alerting endpoint hears every failed run of every workflow;
- billing hears when the workspace reaches its credit limit;
- more webhooks can be declared in stack config under `copyai-webhooks:extraWebhooks`, e.g.
  pulumi config set --path 'extraWebhooks[0].name' audit
  pulumi config set --path 'extraWebhooks[0].url' https://audit.example.com/copyai
  pulumi config set --path 'extraWebhooks[0].eventType' workflowRun.completed
"""

import pulumi

from pulumi_copyai import CopyAIWebhook, EventType, WorkflowWebhooks

config = pulumi.Config()
receiver = config.require("receiverUrl").rstrip("/")
workflow_id = config.require("workflowId")

pipeline = WorkflowWebhooks("content-pipeline", url=f"{receiver}/pipeline", workflow_id=workflow_id)

alerts = CopyAIWebhook("all-failed-runs", url=f"{receiver}/alerts", event_type=EventType.WORKFLOW_RUN_FAILED)

billing = CopyAIWebhook(
    "credit-limit",
    url=f"{receiver}/billing",
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
