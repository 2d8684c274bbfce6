"""The `copyai` Pulumi package's provider plugin (`pulumi-resource-copyai`) and its schema.

Resources `copyai:index:Webhook` and `copyai:index:WorkflowWebhooks`, for programs in any Pulumi
language, through SDKs generated from `schema.json`.
"""
