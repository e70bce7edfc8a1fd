"""What the workflow's states pass each other: ids, never documents (the order lives in DynamoDB)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from seatflow.models.order import ORDER_ID_PATTERN


class OrderTask(BaseModel):
    """An execution's input: the order, and the change it runs (None: a plain re-run of the order's workflow)."""

    order_id: str = Field(pattern=ORDER_ID_PATTERN)
    change: int | None = Field(default=None, ge=1)


ParticipantKey = Annotated[str, Field(pattern=r"^(learner|tutor)-\d{4,}$")]

# A Map item is a batch of participant keys: a few hundred bytes, far below the 256 KiB state limit.
MAX_BATCH_SIZE = 100


class ParticipantBatchTask(OrderTask):
    participant_keys: list[ParticipantKey] = Field(min_length=1, max_length=MAX_BATCH_SIZE)


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
    """No participant keys: the order failed. Participant keys: a batch whose retries are spent."""

    participant_keys: list[ParticipantKey] | None = None
    error: StateError = Field(default_factory=StateError)


class SessionPrepared(BaseModel):
    order_id: str
    change: int | None = None
    manifest_key: str
    participants: int


class ParticipantState(BaseModel):
    """One participant as the console shows it in a batch's output: no email, no name."""

    key: str
    status: str
    reason_code: str | None = None


class BatchDone(BaseModel):
    """How many of the batch's participants ended in each status, and each one's key, status and reason code,
    so a person reading the child execution in the console sees who failed and why (25 x ~70 bytes)."""

    order_id: str
    enrolled: int = 0
    needs_review: int = 0
    failed: int = 0
    participants: list[ParticipantState] = Field(default_factory=list)


class OrderDone(BaseModel):
    order_id: str
    change: int | None = None
    status: str
    counts: dict[str, int] = Field(default_factory=dict)


class ChangeStarted(BaseModel):
    """StartChange's answer: the change applied (None: a plain re-run), and what it came to."""

    order_id: str
    change: int | None = None
    kind: str | None = None
    summary: dict[str, int] = Field(default_factory=dict)


class ChangeEnd(OrderTask):
    """FinishChange's input: the state at the end of the workflow; `error` when it came through a failure."""

    error: StateError | None = None


class NextChange(BaseModel):
    change: int
    execution_name: str


class ChangeFinished(BaseModel):
    """FinishChange's answer: whether the execution ends failed, and the change that got the order's turn."""

    order_id: str
    change: int | None = None
    failed: bool = False
    next: NextChange | None = None
