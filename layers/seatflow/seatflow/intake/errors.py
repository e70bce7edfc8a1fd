"""Every refusal of the order API: an `IntakeError` carrying its HTTP status and the body the shop's developer reads.

The API function turns a refusal into a response and nothing else; a body that failed validation becomes
one here too, its problems named by field (`participants.learners[3].email`). Every refusal lists at least
one problem: given none, its message is reported at the field the refusal is about (`field`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from seatflow.models.order import Problem, field_path, plain_message

WORKFLOW_RETRY_AFTER_SECONDS = 30
IN_PROGRESS_RETRY_AFTER_SECONDS = 5


class IntakeError(Exception):
    """A refusal: `status` is the HTTP status, `body()` what the shop reads."""

    status = 400
    error = "bad_request"
    field = "body"
    retry_after: int | None = None

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems) or [Problem(field=self.field, message=message)]

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.problems:
            body["problems"] = [p.model_dump() for p in self.problems]
        return body


class SignatureRejected(IntakeError):
    status = 401
    error = "invalid_signature"
    field = "headers.Seatflow-Signature"


class InvalidJson(IntakeError):
    status = 400
    error = "invalid_json"


class UnsupportedMediaType(IntakeError):
    status = 415
    error = "unsupported_media_type"
    field = "headers.Content-Type"


class OrderRejected(IntakeError):
    status = 422
    error = "invalid_order"


class OrderNotFound(IntakeError):
    status = 404
    error = "order_not_found"
    field = "order_id"


class OrderConflict(IntakeError):
    status = 409
    error = "order_conflict"
    field = "order_id"


class OrderInProgress(IntakeError):
    status = 409
    error = "order_in_progress"
    field = "order_id"
    retry_after = IN_PROGRESS_RETRY_AFTER_SECONDS


class StaleRevision(IntakeError):
    """An amendment older than the last one accepted."""

    status = 409
    error = "stale_revision"


class RevisionConflict(IntakeError):
    """An amendment reusing the revision number of another body."""

    status = 409
    error = "revision_conflict"


class NothingToRetry(IntakeError):
    status = 409
    error = "nothing_to_retry"


class OrderCancelled(IntakeError):
    """The order is cancelled, or being cancelled: it takes no other change."""

    status = 409
    error = "order_cancelled"


class WorkflowNotStarted(IntakeError):
    status = 503
    error = "order_recorded_not_started"
    field = "order_id"
    retry_after = WORKFLOW_RETRY_AFTER_SECONDS


class ProblemReport(BaseModel):
    """Every 4xx: what is wrong, and where."""

    error: str
    message: str
    problems: list[Problem] = Field(default_factory=list)


def problems_from_validation(errors: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Pydantic / Powertools errors -> problems whose field reads `participants.learners[3].email`, in plain words."""
    problems = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if loc[:1] in (("body",), ("path",), ("query",), ("header",)):
            loc = loc[1:]
        problems.append(Problem(field=field_path(loc), message=plain_message({**error, "loc": loc})))
    return problems


def refuse_invalid_request(errors: Sequence[Mapping[str, Any]]) -> IntakeError:
    """The refusal for a body that failed validation: 400 when it is not JSON at all, 422 otherwise."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return InvalidJson("the body is not valid JSON", [Problem(field="body", message="is not valid JSON")])
    problems = problems_from_validation(errors)
    if any(p.field == "body" for p in problems):
        return InvalidJson("the body must be a JSON object describing the order", problems)
    return OrderRejected(f"the order has {len(problems)} problem(s)", problems)
