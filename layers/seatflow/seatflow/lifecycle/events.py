"""Every change of an order's status, published as an event (detail type = `kind`).

The interface the lifecycle calls at each status change; publishing itself (EventBridge on AWS,
`.seatflow/events.jsonl` locally) is built behind it.
"""

from __future__ import annotations

from typing import Any, Literal

from seatflow.models.order import OrderItem

EventKind = Literal[
    "Order Accepted",
    "Order Completed",
    "Order Partially Completed",
    "Order Failed",
    "Order Amended",
    "Order Cancelled",
    "Participant Needs Review",
]


def order_event(kind: str, order: OrderItem, **detail: Any) -> None:
    """Publish that `order` changed status (`kind`, one of EventKind); `detail` adds counts, keys, reasons.

    A stub for now: it publishes nothing. It must never raise into the caller's work.
    """
    return None
