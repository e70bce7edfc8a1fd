"""FinishChange: the last state of every execution, reached by success and failure alike. The change's outcome
goes into the order's history, and the order's turn to the next change queued, whose execution is started here:
changes of one order run one after the other, in the order they were accepted, never two at once."""

from __future__ import annotations

from seatflow.models.tasks import ChangeEnd, ChangeFinished, NextChange
from seatflow.observability import logger
from seatflow.store.table import unix_now

from .bodies import delete_revision_body
from .clients import change_store, start_change_execution


def finish_change(task: ChangeEnd) -> ChangeFinished:
    failed = task.error is not None
    if task.change is None:
        return ChangeFinished(order_id=task.order_id, failed=failed)
    store = change_store()
    order, change = store.get_order(task.order_id), store.get_change(task.order_id, task.change)
    if order is None or change is None:
        return ChangeFinished(order_id=task.order_id, change=task.change, failed=failed)
    if change.state != "DONE":
        # The outcome only: the failure's words (which may quote usernames) stay on the order, which erasures reach.
        store.update_change(
            order.order_id, change.seq, {"state": "DONE", "finished_at": unix_now(), "outcome": order.status}
        )
    if change.body_key:
        delete_revision_body(change.body_key)  # applied: the amended body's personal data need not wait in S3
    following = store.hand_over_turn(order.order_id, change.seq)
    if following is None:
        return ChangeFinished(order_id=order.order_id, change=change.seq, failed=failed)
    start_change_execution(order.order_id, following)
    logger.info("turn handed over", extra={"change": change.seq, "next_change": following.seq})
    return ChangeFinished(
        order_id=order.order_id,
        change=change.seq,
        failed=failed,
        next=NextChange(change=following.seq, execution_name=following.execution_name),
    )
