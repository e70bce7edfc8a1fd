"""POST /orders/{order_id}/retry, PUT /orders/{order_id} and POST /orders/{order_id}/cancellation: accept a change of
an order, once, and start it if it is the order's turn.

Each change accepted is a CHANGE# item (seatflow.store.changes) and an execution of its own, named after the order
and the change. Replays are recognised by the change items themselves, not by Powertools Idempotency: the same
request finds its change and gets the same answer, at any time (a retry's body is always `{}`: a retry still
waiting for its turn is the one a second retry gets). A change arriving while another runs is accepted and waits
for its turn (docs/decisions/0013-order-changes.md).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from seatflow.intake.clients import order_store
from seatflow.intake.errors import (
    NothingToRetry,
    OrderCancelled,
    OrderInProgress,
    OrderNotFound,
    OrderRejected,
    RevisionConflict,
    StaleRevision,
    WorkflowNotStarted,
)
from seatflow.intake.report import Links, order_link
from seatflow.lifecycle.bodies import put_revision_body, revision_key
from seatflow.lifecycle.clients import start_change_execution
from seatflow.lifecycle.requests import AmendedOrderBody, CancellationRequest, amendment_problems, execution_name
from seatflow.models.lifecycle import ChangeItem, ChangeKind, ChangeState
from seatflow.models.order import OrderItem, OrderStatus
from seatflow.observability import logger
from seatflow.store.table import unix_now

ACCEPT_ATTEMPTS = 5
Decision = ChangeItem | tuple[ChangeItem, dict[str, object]]


class ChangeView(BaseModel):
    kind: ChangeKind
    revision: int
    execution_name: str = Field(description="The Step Functions execution that runs this change")
    state: ChangeState = Field(description="QUEUED until its execution applies it, RUNNING, then DONE")
    accepted_at: int


class AcceptedChange(BaseModel):
    """202: the change is recorded; it runs now, or right after the changes accepted before it."""

    order_id: str
    status: OrderStatus
    revision: int = Field(description="The last revision of the order accepted")
    change: ChangeView
    links: Links


def accept_retry(order_id: str) -> AcceptedChange:
    def decide(order: OrderItem, changes: list[ChangeItem]) -> Decision:
        if order.cancellation is not None and order.status != "FAILED":  # a failed cancellation may be retried
            raise OrderCancelled(f"order {order_id} is cancelled")
        waiting = [c for c in changes if c.kind == "retried" and c.state == "QUEUED"]
        if waiting:
            return waiting[-1]
        counts = order.counts
        if order.active_change is None and not (
            order.status == "FAILED" or counts.get("needs_review", 0) or counts.get("failed", 0)
        ):
            raise NothingToRetry(f"order {order_id} has nothing to retry: no participant needs review or failed")
        number = order.retry_count + 1
        name = execution_name(order_id, "retried", revision=order.revision, retry=number)
        return _change(order, "retried", name), {"retry_count": number}

    return _accept(order_id, decide)


def accept_amendment(order_id: str, body: AmendedOrderBody) -> AcceptedChange:
    digest = body.body_sha256()

    def decide(order: OrderItem, changes: list[ChangeItem]) -> Decision:
        same = [c for c in changes if c.revision == body.revision and c.kind in ("created", "amended")]
        if same and same[0].body_sha256 == digest:
            return same[0]  # a replay gets its answer, even once the order is cancelled
        if order.cancellation is not None:
            raise OrderCancelled(f"order {order_id} is cancelled: it can no longer be amended")
        if same:
            raise RevisionConflict(f"revision {body.revision} of order {order_id} was accepted with another body")
        if body.revision < order.revision:
            raise StaleRevision(
                f"revision {body.revision} is older than revision {order.revision}, accepted already: "
                "send the order as it now stands with a higher revision"
            )
        revisions = [c for c in changes if c.kind in ("created", "amended") and c.seats is not None]
        seats_before = max(revisions, key=lambda c: c.revision).seats if revisions else order.seats
        problems = amendment_problems(order, body, order_id=order_id, seats_before=seats_before or order.seats)
        if problems:
            raise OrderRejected(f"the amendment has {len(problems)} problem(s)", problems)
        key = revision_key(order_id, body.revision, digest)
        put_revision_body(body, key)
        name = execution_name(order_id, "amended", revision=body.revision, retry=0)
        change = _change(order, "amended", name).model_copy(
            update={"revision": body.revision, "body_sha256": digest, "body_key": key, "seats": body.seats}
        )
        return change, {"revision": body.revision}

    return _accept(order_id, decide)


def accept_cancellation(order_id: str, request: CancellationRequest) -> AcceptedChange:
    def decide(order: OrderItem, changes: list[ChangeItem]) -> Decision:
        cancelled = [c for c in changes if c.kind == "cancelled"]
        if cancelled and cancelled[0].reason == request.reason:
            return cancelled[0]
        if cancelled:
            raise OrderCancelled(f"order {order_id} was already cancelled (reason: {cancelled[0].reason!r})")
        name = execution_name(order_id, "cancelled", revision=order.revision, retry=0)
        change = _change(order, "cancelled", name).model_copy(update={"reason": request.reason})
        return change, {"cancellation": {"reason": request.reason, "accepted_at": change.accepted_at}}

    return _accept(order_id, decide)


def _change(order: OrderItem, kind: ChangeKind, name: str) -> ChangeItem:
    return ChangeItem(
        order_id=order.order_id,
        seq=order.change_count + 1,
        kind=kind,
        revision=order.revision,
        accepted_at=unix_now(),
        execution_name=name,
    )


def _accept(order_id: str, decide: Callable[[OrderItem, list[ChangeItem]], Decision]) -> AcceptedChange:
    """Decide on the order as read, then record on condition it did not move meanwhile; else read and decide again."""
    store = order_store()
    for _ in range(ACCEPT_ATTEMPTS):
        order = store.get_order(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        changes = store.list_changes(order_id)
        _free_a_stuck_turn(order, changes)
        decision = decide(order, changes)
        if isinstance(decision, ChangeItem):
            _start_if_its_turn(order, decision)  # a replay after a failed start starts it
            return _answer(order_id, decision)
        change, values = decision
        if store.accept_change(order, change, values):
            logger.info("change accepted", extra={"order_id": order_id, "change": change.seq, "kind": change.kind})
            if order.active_change is None:
                _start(order_id, change)
            return _answer(order_id, change)
    raise OrderInProgress(f"order {order_id} is being changed by other requests; send this one again in a few seconds")


def _free_a_stuck_turn(order: OrderItem, changes: list[ChangeItem]) -> None:
    """Best effort, for any request: a change that ended without handing the turn over (its last state never ran),
    or that holds the turn but whose execution never started, must not block the order."""
    active = next((c for c in changes if c.seq == order.active_change), None)
    try:
        if active is not None and active.state == "DONE" and active.handed_to is None:
            following = order_store().hand_over_turn(order.order_id, active.seq)
            if following is not None:
                start_change_execution(order.order_id, following)
        elif active is not None and active.state == "QUEUED" and active.seq != 1:
            start_change_execution(order.order_id, active)  # its name makes a second start a no-op
    except Exception:  # the request itself goes on; the next one tries again
        logger.exception("Could not free the order's turn", extra={"order_id": order.order_id})


def _start_if_its_turn(order: OrderItem, change: ChangeItem) -> None:
    if order.active_change == change.seq and change.state == "QUEUED":
        _start(order.order_id, change)


def _start(order_id: str, change: ChangeItem) -> None:
    try:
        start_change_execution(order_id, change)
    except Exception as exc:
        logger.exception("Could not start the change's workflow", extra={"order_id": order_id, "change": change.seq})
        raise WorkflowNotStarted(
            f"the change of order {order_id} is recorded but could not be started; send the same request again"
        ) from exc


def _answer(order_id: str, change: ChangeItem) -> AcceptedChange:
    order = order_store().get_order(order_id)
    assert order is not None
    recorded = order_store().get_change(order_id, change.seq) or change
    return AcceptedChange(
        order_id=order_id,
        status=order.status,
        revision=order.revision,
        change=ChangeView.model_validate(recorded.model_dump()),
        links=order_link(order_id),
    )
