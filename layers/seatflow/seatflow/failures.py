"""RecordOrderFailure's rule. A module of its own: recording a failure needs DynamoDB only, so this Lambda
does not load the Moodle client (requests) at its cold start."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from seatflow.lifecycle.events import order_event
from seatflow.models.tasks import BatchDone, FailureTask, OrderDone
from seatflow.observability import metrics, publish_metric_alone
from seatflow.privacy.retention import schedule_personal_data_expiry
from seatflow.store import store_for_settings

_store = store_for_settings  # one store per container


def record_failure(task: FailureTask) -> dict[str, Any]:
    """A Catch landed here: a batch's retries are spent, or the whole order could not be prepared."""
    store = _store()
    reason = task.error.message()
    if task.participant_keys:
        reason = f"gave up after retries: {reason}"
        failed = store.fail_pending_participants(task.order_id, task.participant_keys, reason)
        metrics.add_metric(name="ParticipantsFailed", unit="Count", value=len(failed))
        return BatchDone(order_id=task.order_id, failed=len(failed)).model_dump()
    order = store.get_order(task.order_id)
    failure = {"error": task.error.Error, "reason": reason}
    store.finish_order(
        task.order_id,
        status="FAILED",
        counts=order.counts if order else {},
        group=order.group if order else None,
        warnings=order.warnings if order else None,
        failure=failure,
    )
    publish_metric_alone("OrdersFinished", MetricUnit.Count, [1], status="FAILED")
    if order is not None:
        schedule_personal_data_expiry(store, order.order_id, order.session)
        order_event("Order Failed", order, status="FAILED", failure=failure)
    return OrderDone(order_id=task.order_id, status="FAILED").model_dump()
