"""The order API's rules: authenticate a request, accept an order, report on it.

One module per idea: `errors` (every refusal and its HTTP status), `signature` (is this request from the
shop?), `acceptance` (record the order and start its workflow, once), `changes` (retry, amend, cancel: each
change accepted once, run in turn), `report` (GET /orders/{order_id}),
`clients` (the store and Step Functions client they share). The API function uses the names below.
"""

from seatflow.intake.acceptance import (
    IDEMPOTENCY_EXPIRES_AFTER_SECONDS,
    AcceptedOrder,
    accept_order,
    forget_idempotency_layer,
)
from seatflow.intake.changes import AcceptedChange, ChangeView, accept_amendment, accept_cancellation, accept_retry
from seatflow.intake.clients import forget_clients
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
    "StaleRevision",
    "WorkflowNotStarted",
    "accept_amendment",
    "accept_cancellation",
    "accept_order",
    "accept_retry",
    "order_link",
    "problems_from_validation",
    "raw_body",
    "read_order_report",
    "refuse_invalid_request",
    "reset",
    "verify_request_signature",
]
