"""The order API's rules: authenticate, accept an order (record it, start its workflow), report on it.

Every refusal is an `IntakeError` carrying its HTTP status and a body for the shop's developer; the API
function turns it into a response and nothing else.

Idempotency, two layers:
- Powertools Idempotency on `accept_order`, keyed on the order id, with payload validation: a replay
  within an hour gets the stored answer without touching anything; a different body is a conflict.
- The order item itself, written on condition it does not exist and holding the body's SHA-256: the
  source of truth once the idempotency record has expired.
A failed workflow start raises (so Powertools deletes its in-progress record instead of caching it), the
order stays RECEIVED, and the next POST of the same order starts it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from seatflow import signature
from seatflow.config import get_settings, webhook_secret
from seatflow.models.order import (
    ORDER_ID_PATTERN,
    OrderBody,
    OrderStatus,
    ParticipantItem,
    Person,
    Problem,
    order_rule_problems,
)
from seatflow.observability import logger, metrics
from seatflow.store import OrderStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_EXPIRES_AFTER_SECONDS = 3600
WORKFLOW_RETRY_AFTER_SECONDS = 30
IN_PROGRESS_RETRY_AFTER_SECONDS = 5


# ------------------------------------------------------------------------------------------------- errors


class IntakeError(Exception):
    """A refusal: `status` is the HTTP status, `body()` what the shop reads."""

    status = 400
    error = "bad_request"
    retry_after: int | None = None

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.problems:
            body["problems"] = [p.model_dump() for p in self.problems]
        return body


class SignatureRejected(IntakeError):
    status = 401
    error = "invalid_signature"


class InvalidJson(IntakeError):
    status = 400
    error = "invalid_json"


class OrderRejected(IntakeError):
    status = 422
    error = "invalid_order"


class OrderNotFound(IntakeError):
    status = 404
    error = "order_not_found"


class OrderConflict(IntakeError):
    status = 409
    error = "order_conflict"


class OrderInProgress(IntakeError):
    status = 409
    error = "order_in_progress"
    retry_after = IN_PROGRESS_RETRY_AFTER_SECONDS


class WorkflowNotStarted(IntakeError):
    status = 503
    error = "order_recorded_not_started"
    retry_after = WORKFLOW_RETRY_AFTER_SECONDS


# ------------------------------------------------------------------------------------------ answer models


class Links(BaseModel):
    self: str


class AcceptedOrder(BaseModel):
    """202: the order is recorded and its fulfilment started."""

    order_id: str
    status: OrderStatus
    links: Links


class ProblemReport(BaseModel):
    """Every 4xx: what is wrong, and where."""

    error: str
    message: str
    problems: list[Problem] = Field(default_factory=list)


class OperatorOutcome(BaseModel):
    firstname: str
    lastname: str
    email: str
    account: Literal["created", "reused"] | None = None
    moodle_user_id: int | None = None
    username: str | None = None


class ParticipantOutcome(BaseModel):
    participant_key: str
    role: Literal["learner", "tutor"]
    position: int
    firstname: str
    lastname: str
    email: str
    status: Literal["PENDING", "ENROLLED", "NEEDS_REVIEW", "FAILED"]
    account: Literal["created", "reused"] | None = None
    moodle_user_id: int | None = None
    username: str | None = None
    role_enrolled: str | None = None
    attached_to_operator: bool | None = None
    group_member: bool | None = None
    reason: str | None = None
    warnings: list[str] = Field(default_factory=list)


class OrderReport(BaseModel):
    """GET /orders/{order_id}."""

    order_id: str
    status: OrderStatus
    execution_name: str | None = Field(default=None, description="The Step Functions execution of this order")
    seats: int
    counts: dict[str, int]
    received_at: int
    finished_at: int | None = None
    course: dict[str, Any] | None = None
    operator: OperatorOutcome
    group: dict[str, Any] | None = None
    participants: list[ParticipantOutcome]
    warnings: list[str] = Field(default_factory=list)
    failure: dict[str, Any] | None = None
    links: Links


# ------------------------------------------------------------------------------------------- services

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _store() -> OrderStore:
    return OrderStore()


_sfn_client: Any = None


def _stepfunctions() -> Any:
    global _sfn_client
    if _sfn_client is None:
        with _lock:
            if _sfn_client is None:
                _sfn_client = boto3.client("stepfunctions")
    return _sfn_client


def reset() -> None:
    """Forget cached clients, store and idempotency layer (tests; the local runtime after changing env)."""
    global _sfn_client
    _sfn_client = None
    _store.cache_clear()
    _idempotent_accept.cache_clear()


def order_link(order_id: str) -> Links:
    return Links(self=f"/orders/{order_id}")


# ---------------------------------------------------------------------------------------- authenticity


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The exact bytes the shop signed (API Gateway may hand them base64-encoded)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


def verify_request_signature(headers: Mapping[str, str] | None, body: bytes, *, now: int | None = None) -> None:
    """Raise SignatureRejected unless `Seatflow-Signature` signs this body with the webhook secret."""
    header = None
    for name, value in (headers or {}).items():
        if name.lower() == signature.HEADER.lower():
            header = value
            break
    try:
        signature.verify(
            header,
            body,
            webhook_secret(),
            now=int(time.time()) if now is None else now,
            tolerance=get_settings().signature_tolerance_seconds,
        )
    except signature.SignatureError as exc:
        logger.warning("Refused an unsigned or badly signed request", extra={"reason": str(exc)})
        raise SignatureRejected(str(exc)) from None


# --------------------------------------------------------------------------------------------- accept


def problems_from_validation(errors: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Pydantic / Powertools errors -> problems whose field reads `participants.learners[3].email`."""
    problems = []
    for error in errors:
        loc = list(error.get("loc", ()))
        if loc and loc[0] in ("body", "path", "query", "header"):
            loc = loc[1:]
        path = ""
        for part in loc:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = str(error.get("msg", "is invalid"))
        message = message.removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "is required"
        elif error.get("type") == "extra_forbidden":
            message = "is not a known field"
        elif error.get("type") == "string_pattern_mismatch" and loc and loc[-1] == "order_id":
            message = "must be 1 to 64 characters among letters, digits, '.', '_' and '-'"
        problems.append(Problem(field=path or "body", message=message))
    return problems


def refuse_invalid_request(errors: Sequence[Mapping[str, Any]]) -> IntakeError:
    """The refusal for a body that failed validation: 400 when it is not JSON at all, 422 otherwise."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return InvalidJson("the body is not valid JSON", [Problem(field="body", message="is not valid JSON")])
    problems = problems_from_validation(errors)
    if any(p.field == "body" for p in problems):
        return InvalidJson("the body must be a JSON object describing the order", problems)
    return OrderRejected(f"the order has {len(problems)} problem(s)", problems)


def accept_order(order: OrderBody, context: LambdaContext | None = None) -> AcceptedOrder:
    """Check the rules across fields, then record the order and start its workflow, once per order id."""
    problems = order_rule_problems(order)
    if problems:
        raise OrderRejected(f"the order has {len(problems)} problem(s)", problems)
    accept, config = _idempotent_accept()
    if context is not None:
        config.register_lambda_context(context)
    try:
        return accept(order=order)  # type: ignore[no-any-return]
    except IdempotencyValidationError:
        raise _conflict(order.order_id) from None
    except IdempotencyAlreadyInProgressError:
        raise OrderInProgress(
            f"order {order.order_id} is being accepted by another request; retry in a few seconds"
        ) from None


@lru_cache(maxsize=1)
def _idempotent_accept() -> tuple[Any, IdempotencyConfig]:
    """`_record_and_start` under Powertools Idempotency; built on first use, when the table is known."""
    config = IdempotencyConfig(
        event_key_jmespath="order_id",
        payload_validation_jmespath="@",
        expires_after_seconds=IDEMPOTENCY_EXPIRES_AFTER_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    persistence = DynamoDBPersistenceLayer(table_name=get_settings().table_name, key_attr="PK", sort_key_attr="SK")
    decorated = idempotent_function(
        data_keyword_argument="order",
        persistence_store=persistence,
        config=config,
        output_serializer=PydanticSerializer(model=AcceptedOrder),
    )(_record_and_start)
    return decorated, config


def _record_and_start(order: OrderBody) -> AcceptedOrder:
    store = _store()
    result = store.record_order(order, order.body_sha256())
    if result.outcome == "conflict":
        raise _conflict(order.order_id)
    status: OrderStatus = result.order.status
    if status == "RECEIVED":
        execution_arn = _start_workflow(order.order_id)
        store.mark_running(order.order_id, execution_arn)
        status = "RUNNING"
        if result.outcome == "created":
            metrics.add_metric(name="OrdersAccepted", unit=MetricUnit.Count, value=1)
    logger.info(
        "Order accepted",
        extra={"order_id": order.order_id, "outcome": result.outcome, "status": status, "seats": order.seats},
    )
    return AcceptedOrder(order_id=order.order_id, status=status, links=order_link(order.order_id))


def _conflict(order_id: str) -> OrderConflict:
    return OrderConflict(
        f"order {order_id} was already received with a different body; an order id can only be used once"
    )


def _start_workflow(order_id: str) -> str:
    """Start the execution named after the order; an existing one counts as started."""
    state_machine_arn = get_settings().state_machine_arn
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{order_id}"
    try:
        response = _stepfunctions().start_execution(
            stateMachineArn=state_machine_arn, name=order_id, input=json.dumps({"order_id": order_id})
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return execution_arn
        logger.exception("Could not start the workflow", extra={"order_id": order_id})
        raise _not_started(order_id) from exc
    except (BotoCoreError, ValueError) as exc:
        logger.exception("Could not start the workflow", extra={"order_id": order_id})
        raise _not_started(order_id) from exc
    return str(response["executionArn"])


def _not_started(order_id: str) -> WorkflowNotStarted:
    return WorkflowNotStarted(
        f"order {order_id} is recorded but its processing could not be started; "
        f"send the same request again (after {WORKFLOW_RETRY_AFTER_SECONDS}s) to start it"
    )


# --------------------------------------------------------------------------------------------- report


def read_order_report(order_id: str) -> OrderReport:
    store = _store()
    order = store.get_order(order_id) if re.fullmatch(ORDER_ID_PATTERN, order_id) else None
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    participants = store.list_participants(order_id)
    counts: dict[str, int] = {"participants": len(participants)}
    for status in ("PENDING", "ENROLLED", "NEEDS_REVIEW", "FAILED"):
        counts[status.lower()] = sum(1 for p in participants if p.status == status)
    for name, value in order.counts.items():
        counts.setdefault(name, value)
    session = order.session or {}
    refused = set(order.group.get("refused_user_ids") or []) if order.group is not None else None
    return OrderReport(
        order_id=order.order_id,
        status=order.status,
        execution_name=order.execution_arn.rsplit(":", 1)[-1] if order.execution_arn else None,
        seats=order.seats,
        counts=counts,
        received_at=order.received_at,
        finished_at=order.finished_at,
        course=_course(session) if session else None,
        operator=_operator(order.operator, session),
        group=order.group,
        participants=[_participant(p, refused) for p in participants],
        warnings=order.warnings,
        failure=order.failure,
        links=order_link(order.order_id),
    )


def _course(session: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("course_id", "course_shortname", "timestart", "timeend")
    return {k: session[k] for k in keys if k in session}


def _operator(person: Person, session: Mapping[str, Any]) -> OperatorOutcome:
    return OperatorOutcome(
        firstname=person.firstname,
        lastname=person.lastname,
        email=person.email,
        account=session.get("operator_account"),
        moodle_user_id=session.get("operator_user_id"),
        username=session.get("operator_username"),
    )


def _participant(p: ParticipantItem, refused: set[int] | None) -> ParticipantOutcome:
    """`refused`: the user ids Moodle kept out of the order's group, or None before the group exists.
    FinalizeSession put every enrolled participant in the group, except those."""
    member = None if refused is None else (p.status == "ENROLLED" and p.moodle_user_id not in refused)
    return ParticipantOutcome(
        participant_key=p.participant_key,
        role=p.role,
        position=p.position,
        firstname=p.firstname,
        lastname=p.lastname,
        email=p.email,
        status=p.status,
        account=p.account,
        moodle_user_id=p.moodle_user_id,
        username=p.username,
        role_enrolled=p.role_shortname,
        attached_to_operator=p.attached_to_operator,
        group_member=member,
        reason=p.reason,
        warnings=p.warnings,
    )
