"""Copy.ai webhook event types (the only values the API accepts)."""

from __future__ import annotations

from enum import Enum


class EventType(str, Enum):
    """The four Copy.ai webhook event types."""

    WORKFLOW_RUN_STARTED = "workflowRun.started"
    WORKFLOW_RUN_COMPLETED = "workflowRun.completed"
    WORKFLOW_RUN_FAILED = "workflowRun.failed"
    WORKFLOW_CREDIT_LIMIT_REACHED = "workflowCreditLimit.reached"

    def __str__(self) -> str:
        return self.value


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
