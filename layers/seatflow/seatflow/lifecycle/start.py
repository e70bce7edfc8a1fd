"""StartChange: the first state of every execution. The change whose turn it is gets applied to the stored order:
each participant is told what is left to do (seatflow.lifecycle.plans), the order takes the amended body, and the
change is RUNNING. The rest of the workflow then does the Moodle work for the participants with work left.

An execution without a change (a plain re-run of the order's workflow) applies nothing and passes through.
"""

from __future__ import annotations

from typing import Any

from seatflow.models.lifecycle import ChangeItem
from seatflow.models.order import OrderItem, ParticipantItem, StoredProduct
from seatflow.models.tasks import ChangeStarted, OrderTask
from seatflow.observability import logger
from seatflow.store import ItemNotFound
from seatflow.store.table import unix_now

from .bodies import read_revision_body
from .clients import change_store
from .events import order_event
from .plans import Plan, plan_amendment, plan_cancellation, plan_retry
from .requests import AmendedOrderBody, dates_changed


class ChangeOutOfTurn(Exception):
    """This execution's change does not hold the order's turn (or has run already): it must not run."""


def start_change(task: OrderTask) -> ChangeStarted:
    if task.change is None:
        return ChangeStarted(order_id=task.order_id)
    store = change_store()
    order, change = store.get_order(task.order_id), store.get_change(task.order_id, task.change)
    if order is None or change is None:
        raise ItemNotFound(f"order {task.order_id} has no change {task.change}")
    if order.active_change != change.seq or change.state == "DONE":
        raise ChangeOutOfTurn(f"change {change.seq} of order {order.order_id} does not hold the order's turn")

    participants = store.list_participants(order.order_id)
    body = read_revision_body(change.body_key or "") if change.kind == "amended" else None
    writes, summary = _plan(order, change, participants, body)
    order_values = _order_values(change, body)
    store.save_participant_outcomes(writes)
    updated = store.update_order(order.order_id, {**order_values, "status": "RUNNING", "finished_at": None})
    if change.state == "QUEUED":
        store.update_change(
            order.order_id, change.seq, {"state": "RUNNING", "started_at": unix_now(), "summary": summary}
        )
    logger.info("change started", extra={"change": change.seq, "kind": change.kind, "summary": summary})
    if change.kind == "amended":
        order_event("Order Amended", updated, revision=change.revision, **summary)
    return ChangeStarted(order_id=order.order_id, change=change.seq, kind=change.kind, summary=summary)


def _plan(
    order: OrderItem, change: ChangeItem, participants: list[ParticipantItem], body: AmendedOrderBody | None
) -> Plan:
    if body is not None:
        moved = dates_changed(order.product.parsed, body.product.parsed.model_dump(mode="json", exclude_none=True))
        return plan_amendment(order.order_id, participants, body, dates_changed=moved)
    if change.kind == "retried":
        return plan_retry(participants, cancelling=order.cancellation is not None)
    if change.kind == "cancelled":
        return plan_cancellation(participants)
    return [], {}


def _order_values(change: ChangeItem, body: AmendedOrderBody | None) -> dict[str, Any]:
    """What the change sets on the order itself: an amendment's body; a retry clears the failure it retries."""
    if body is not None:
        parsed = body.product.parsed
        return {
            "body_sha256": change.body_sha256,
            "operator": body.operator.model_dump(mode="json", exclude_none=True),
            "product": StoredProduct(
                code=body.product.code,
                params=body.product.params,
                parsed=parsed.model_dump(mode="json", exclude_none=True),
            ).model_dump(mode="json"),
            "seats": body.seats,
        }
    if change.kind == "retried":
        return {"failure": None}
    return {}
