"""Every recorded order is started, whatever the shop does next: every minute, the orders recorded but not
started (the API answered 503 because Step Functions refused the start, and the shop may never resend) are
started here (docs/decisions/0010-restarting-unstarted-orders.md).

They are the items of the store's sparse index of unstarted orders. One is started once it is a minute old:
by then the API request that recorded it (29 s at most) has ended, so the sweeper never races a request still
writing the participants. The execution is named after the order, so a start that crosses the shop's retry is
refused by Step Functions and only marks the order running. An order whose participants were never all
recorded (the API died mid-write) is not started: only the shop has its body, and the age metric tells.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from seatflow.intake.clients import order_store
from seatflow.intake.errors import WorkflowNotStarted
from seatflow.intake.workflow import start_workflow
from seatflow.lifecycle.events import order_event
from seatflow.observability import logger, metrics
from seatflow.store.table import unix_now

UNSTARTED_FOR_SECONDS = 60


class SweepOutcome(BaseModel):
    """What one sweep did: the orders it started, those left waiting, and how long the oldest has waited."""

    started: list[str]
    left_unstarted: list[str]
    oldest_unstarted_age_seconds: int


def start_unstarted_orders() -> SweepOutcome:
    """Start every order unstarted for a minute or more; publish `OldestUnstartedOrderAgeSeconds` (0 if none)."""
    now = unix_now()
    store = order_store()
    started: list[str] = []
    left: dict[str, int] = {}
    for order in store.iter_unstarted_orders():
        if now - order.unstarted_since < UNSTARTED_FOR_SECONDS:
            left[order.order_id] = order.unstarted_since  # its API request may still be running
            continue
        if not order.participants_recorded:
            logger.warning(
                "Unstarted order not fully recorded: the shop must resend it", extra={"order_id": order.order_id}
            )
            left[order.order_id] = order.unstarted_since
            continue
        try:
            execution_arn = start_workflow(order.order_id)
        except WorkflowNotStarted:
            left[order.order_id] = order.unstarted_since  # logged by start_workflow; tried again next minute
            continue
        store.mark_running(order.order_id, execution_arn)
        started.append(order.order_id)
        accepted = store.get_order(order.order_id)
        if accepted is not None:  # the same event (and event_id) as when the API starts an order
            order_event("Order Accepted", accepted, status="RUNNING")
    oldest = max((now - since for since in left.values()), default=0)
    metrics.add_metric(name="OldestUnstartedOrderAgeSeconds", unit=MetricUnit.Seconds, value=oldest)
    outcome = SweepOutcome(started=started, left_unstarted=sorted(left), oldest_unstarted_age_seconds=oldest)
    if started or left:
        logger.info("Unstarted orders swept", extra=outcome.model_dump())
    return outcome
