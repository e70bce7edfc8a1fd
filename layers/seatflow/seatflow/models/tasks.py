"""What the workflow's states pass each other: ids, never documents (the order lives in DynamoDB)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from seatflow.models.order import ORDER_ID_PATTERN


class OrderTask(BaseModel):
    order_id: str = Field(pattern=ORDER_ID_PATTERN)


class ParticipantTask(OrderTask):
    participant_key: str = Field(pattern=r"^(learner|tutor)-\d{4,}$")


class StateError(BaseModel):
    """The `$.error` a Catch adds: Step Functions' error name and its cause (Lambda's error JSON, as text)."""

    Error: str = "States.TaskFailed"
    Cause: str | None = None

    def message(self) -> str:
        import json

        try:
            cause: Any = json.loads(self.Cause or "")
        except ValueError:
            cause = self.Cause
        if isinstance(cause, dict):
            return f"{cause.get('errorType', self.Error)}: {cause.get('errorMessage', '')}".strip()
        return f"{self.Error}: {cause}" if cause else self.Error


class FailureTask(OrderTask):
    participant_key: str | None = None
    error: StateError = Field(default_factory=StateError)


class SessionPrepared(BaseModel):
    order_id: str
    manifest_key: str
    participants: int


class ParticipantDone(BaseModel):
    participant_key: str
    status: str


class OrderDone(BaseModel):
    order_id: str
    status: str
    counts: dict[str, int] = Field(default_factory=dict)
