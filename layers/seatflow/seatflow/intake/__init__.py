"""The order API's rules: authenticate a request, accept an order, change it, report on it; and starting the
orders it recorded but could not start.

One module per idea: `errors` (every refusal and its HTTP status), `signature` (is this request from the
shop?), `body` (the body as JSON, within bounds), `acceptance` (record the order and start its workflow,
once), `workflow` (start an order's execution, named after it), `changes` (retry, amend, cancel: each change
accepted once, run in turn), `report` (GET /orders/{order_id}), `erasures` (POST /erasures), `clients` (the store
and Step Functions client they share), `sweeper` (start the orders left unstarted; its function imports it
directly). The API function uses the names below.
"""

from seatflow.intake.acceptance import (
    IDEMPOTENCY_EXPIRES_AFTER_SECONDS,
    AcceptedOrder,
    accept_order,
    forget_idempotency_layer,
)
from seatflow.intake.body import read_json_body
from seatflow.intake.changes import AcceptedChange, ChangeView, accept_amendment, accept_cancellation, accept_retry
from seatflow.intake.clients import forget_clients
from seatflow.intake.erasures import ErasurePostponed, ErasureRequest, erase_personal_data
from seatflow.intake.errors import (
    IN_PROGRESS_RETRY_AFTER_SECONDS,
    WORKFLOW_RETRY_AFTER_SECONDS,
    IntakeError,
    InvalidJson,
    NothingToRetry,
    OrderCancelled,
    OrderConflict,
    OrderInProgress,
    OrderNotFound,
    OrderRejected,
    ProblemReport,
    RevisionConflict,
    SignatureRejected,
    StaleRevision,
    UnsupportedMediaType,
    WorkflowNotStarted,
    problems_from_validation,
    refuse_invalid_request,
)
from seatflow.intake.report import (
    ChangeRecord,
    Links,
    OperatorOutcome,
    OrderReport,
    ParticipantOutcome,
    order_link,
    read_order_report,
)
from seatflow.intake.signature import raw_body, verify_request_signature
from seatflow.privacy import ErasureReport


def reset() -> None:
    """Forget cached clients, store and idempotency layer (tests; the local runtime after changing env)."""
    forget_clients()
    forget_idempotency_layer()


__all__ = [
    "IDEMPOTENCY_EXPIRES_AFTER_SECONDS",
    "IN_PROGRESS_RETRY_AFTER_SECONDS",
    "WORKFLOW_RETRY_AFTER_SECONDS",
    "AcceptedChange",
    "AcceptedOrder",
    "ChangeRecord",
    "ChangeView",
    "ErasurePostponed",
    "ErasureReport",
    "ErasureRequest",
    "IntakeError",
    "InvalidJson",
    "Links",
    "NothingToRetry",
    "OrderCancelled",
    "OperatorOutcome",
    "OrderConflict",
    "OrderInProgress",
    "OrderNotFound",
    "OrderRejected",
    "OrderReport",
    "ParticipantOutcome",
    "ProblemReport",
    "RevisionConflict",
    "SignatureRejected",
    "UnsupportedMediaType",
    "StaleRevision",
    "WorkflowNotStarted",
    "accept_amendment",
    "accept_cancellation",
    "accept_order",
    "accept_retry",
    "erase_personal_data",
    "order_link",
    "problems_from_validation",
    "raw_body",
    "read_json_body",
    "read_order_report",
    "refuse_invalid_request",
    "reset",
    "verify_request_signature",
]
