"""Every change of an order's status, published as an event (source `seatflow`, detail type = `kind`).

The detail always holds the order id, its revision, its status and its counts, then what the caller adds
(a participant's key and reason, a failure). Every email in it is masked (`j***@e***.com`). `event_id` is
the same each time one change is published again (a retried Lambda), so a consumer can drop duplicates.

Where events go:
- on AWS, EventBridge `PutEvents` to the bus `EVENT_BUS_NAME` (the template's `OrderEventBus`), at most
  10 entries a call (the API's limit);
- in the local runtime, which sets `SEATFLOW_EVENTS_FILE`, one JSON line per event appended to that file
  (`.seatflow/events.jsonl`), shaped as EventBridge delivers it;
- with neither set (unit tests), nowhere.

Publishing never fails the caller: the order's work is done and recorded whatever happens to its event. A
publish that fails is logged and counted (`EventsNotPublished`), which the operations dashboard shows.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from seatflow.config import Settings, get_settings
from seatflow.models.order import OrderItem
from seatflow.observability import logger, mask_email, metrics

SOURCE = "seatflow"
PUT_EVENTS_MAX_ENTRIES = 10

EventKind = Literal[
    "Order Accepted",
    "Order Completed",
    "Order Partially Completed",
    "Order Failed",
    "Order Amended",
    "Order Cancelled",
    "Participant Needs Review",
]

# The event that says an order's workflow ended, by the order's final status.
FINISHED: dict[str, EventKind] = {
    "COMPLETED": "Order Completed",
    "PARTIAL": "Order Partially Completed",
    "FAILED": "Order Failed",
}


def order_event(kind: str, order: OrderItem, **detail: Any) -> None:
    """Publish that `order` changed status (`kind`, one of EventKind); `detail` adds to or overrides the
    order's own fields (e.g. `status=` when the item was read before its status changed). Never raises."""
    order_events(kind, order, [detail])


def order_events(kind: str, order: OrderItem, details: Sequence[Mapping[str, Any]]) -> None:
    """One event of `kind` per mapping in `details` (e.g. one per participant), published together. Never raises."""
    if not details:
        return
    try:
        _publish(get_settings(), [_event(kind, order, detail) for detail in details])
    except Exception:  # noqa: BLE001 - an event must never undo or fail the work it reports
        logger.exception("Order events not published", extra={"order_id": order.order_id, "detail_type": kind})
        _count_unpublished(len(details))


def _event(kind: str, order: OrderItem, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The event as EventBridge delivers it: `detail-type`, `source`, `time`, `detail`."""
    execution = order.execution_arn.rsplit(":", 1)[-1] if order.execution_arn else None
    detail: dict[str, Any] = {
        "order_id": order.order_id,
        # The revision arrives with amendments (PUT /orders/{order_id}); an order is revision 1 until then.
        "revision": getattr(order, "revision", 1),
        "status": order.status,
        "counts": dict(order.counts),
        **_masked(dict(extra)),
    }
    identity = "|".join(
        str(part)
        for part in (
            kind,
            order.order_id,
            detail["revision"],
            execution,
            detail["status"],
            extra.get("participant_key"),
            extra.get("change"),  # a retry may end in the status of the run before it: another event all the same
        )
    )
    detail["event_id"] = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return {"detail-type": kind, "source": SOURCE, "time": _now(), "detail": detail}


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_email(value)
    if isinstance(value, Mapping):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    if settings.events_file:
        _append_to_file(settings.events_file, events)
    elif settings.event_bus_name:
        _put_events(settings, events)


_file_lock = threading.Lock()


def _append_to_file(path: str, events: list[dict[str, Any]]) -> None:
    """The local runtime's bus: batches run in threads of one process, so lines are written under a lock."""
    lines = "".join(
        json.dumps({"id": str(uuid.uuid4()), "version": "0", **event}, ensure_ascii=False) + "\n" for event in events
    )
    with _file_lock, open(path, "a", encoding="utf-8") as stream:
        stream.write(lines)


def _put_events(settings: Settings, events: list[dict[str, Any]]) -> None:
    client = _events_client(settings)
    for start in range(0, len(events), PUT_EVENTS_MAX_ENTRIES):
        chunk = events[start : start + PUT_EVENTS_MAX_ENTRIES]
        entries = [
            {
                "EventBusName": settings.event_bus_name,
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"], ensure_ascii=False),
            }
            for event in chunk
        ]
        response = client.put_events(Entries=entries)
        failed = int(response.get("FailedEntryCount") or 0)
        if failed:
            codes = sorted({str(e.get("ErrorCode")) for e in response.get("Entries", []) if e.get("ErrorCode")})
            logger.warning("Some order events were refused", extra={"refused": failed, "error_codes": codes})
            _count_unpublished(failed)


_client_lock = threading.Lock()
_client: tuple[Settings, Any] | None = None


def _events_client(settings: Settings) -> Any:
    """One EventBridge client per container, built on first use (rebuilt when the settings change, locally)."""
    global _client
    with _client_lock:
        if _client is None or _client[0] is not settings:
            import boto3

            _client = (settings, boto3.client("events"))
        return _client[1]


def _count_unpublished(count: int) -> None:
    metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=count)
