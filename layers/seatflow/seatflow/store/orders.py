"""Order items: recording an order with its participants, and the order's status from RECEIVED to its end.

Recording an order never loses it and never half-writes it silently: the order item is put first
(conditional on not existing), the participants follow in BatchWriteItem chunks of 25, then the order
item is marked `participants_recorded`. A retry of the same body completes a partial write; the workflow
is only started once `participants_recorded` is true, so the re-write can never reset an outcome.

An order not started yet carries `unstarted_since` (when it was recorded), removed once it runs: the sparse
index UNSTARTED_ORDERS_INDEX holds exactly the orders waiting for a start, for the sweeper that starts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

from botocore.exceptions import ClientError

from seatflow.models.lifecycle import ChangeItem
from seatflow.models.order import OrderBody, OrderItem, ParticipantItem, RecordResult, StoredProduct
from seatflow.store.changes import ChangeRecords
from seatflow.store.participants import ParticipantRecords
from seatflow.store.table import (
    ORDER_SK,
    ItemNotFound,
    from_dynamo,
    is_condition_failed,
    order_pk,
    participant_sk,
    to_dynamo,
    unix_now,
)

# template.yaml: OrdersTable's index on `unstarted_since`, projecting `participants_recorded`.
UNSTARTED_ORDERS_INDEX = "UnstartedOrders"


class UnstartedOrder(NamedTuple):
    """An order recorded but not started: what the sparse index holds of it."""

    order_id: str
    unstarted_since: int
    participants_recorded: bool


class OrderRecords(ParticipantRecords, ChangeRecords):
    """The order item (PK `ORDER#<order_id>`, SK `ORDER`); recording one also writes its participants and its first
    change (the creation, which holds the order's turn from the start)."""

    def record_order(self, order: OrderBody, body_sha256: str) -> RecordResult:
        """Write a new order and its participants; a replay is "same", a different body "conflict"."""
        now = unix_now()
        learners, tutors = len(order.participants.learners), len(order.participants.tutors)
        parsed = order.product.parsed
        item = OrderItem(
            order_id=order.order_id,
            status="RECEIVED",
            body_sha256=body_sha256,
            operator=order.operator,
            product=StoredProduct(
                code=order.product.code,
                params=order.product.params,
                parsed=parsed.model_dump(mode="json", exclude_none=True),
            ),
            seats=order.seats,
            counts={"learners": learners, "tutors": tutors, "participants": learners + tutors},
            received_at=now,
            updated_at=now,
            participants_recorded=False,
            active_change=1,
        )
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={**self._order_attributes(item), "unstarted_since": {"N": str(now)}},
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_condition_failed(exc):
                raise
            old = exc.response.get("Item")
            existing = self._order_from(old) if old else self.get_order(order.order_id)
            if existing is None:  # deleted in between: vanishingly rare, start over
                return self.record_order(order, body_sha256)
            if existing.body_sha256 != body_sha256:
                return RecordResult(outcome="conflict", order=existing)
            if not existing.participants_recorded:
                self._write_participants(order, now)
                self.put_first_change(_creation(item))
                existing = self._mark_participants_recorded(order.order_id)
            return RecordResult(outcome="same", order=existing)
        self._write_participants(order, now)
        self.put_first_change(_creation(item))
        return RecordResult(outcome="created", order=self._mark_participants_recorded(order.order_id))

    def mark_running(self, order_id: str, execution_arn: str) -> None:
        """RECEIVED -> RUNNING with the execution; a later status (the workflow got there first) is kept.
        Either way the order has started: it leaves the unstarted orders."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(order_pk(order_id), ORDER_SK),
                UpdateExpression=(
                    "SET #status = :running, execution_arn = :arn, updated_at = :now REMOVE unstarted_since"
                ),
                ConditionExpression="attribute_exists(PK) AND #status = :received",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_dynamo(
                    {":running": "RUNNING", ":received": "RECEIVED", ":arn": execution_arn, ":now": unix_now()}
                ),
            )
        except ClientError as exc:
            if not is_condition_failed(exc):
                raise
            self._update_order(order_id, {"execution_arn": execution_arn, "unstarted_since": None})

    def iter_unstarted_orders(self) -> Iterator[UnstartedOrder]:
        """The orders recorded and not started yet, in no order: a Scan of the sparse index, which holds only
        them (normally none). The index is eventually consistent: an order started a moment ago may show."""
        kwargs: dict[str, Any] = {"TableName": self.table_name, "IndexName": UNSTARTED_ORDERS_INDEX}
        while True:
            page = self.client.scan(**kwargs)
            for item in page.get("Items", []):
                values = from_dynamo(item)
                yield UnstartedOrder(
                    order_id=str(values["PK"]).removeprefix(order_pk("")),
                    unstarted_since=int(values["unstarted_since"]),
                    participants_recorded=bool(values.get("participants_recorded")),
                )
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_order(self, order_id: str) -> OrderItem | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=self._key(order_pk(order_id), ORDER_SK), ConsistentRead=True
        )
        item = response.get("Item")
        return self._order_from(item) if item else None

    def get_order_and_participants(
        self, order_id: str, keys: list[str]
    ) -> tuple[OrderItem | None, list[ParticipantItem]]:
        """The order and some of its participants (in `keys` order) in one BatchGetItem per 100 items."""
        found = self._batch_get(
            [self._key(order_pk(order_id), ORDER_SK)]
            + [self._key(order_pk(order_id), participant_sk(key)) for key in keys]
        )
        order: OrderItem | None = None
        by_key: dict[str, ParticipantItem] = {}
        for item in found:
            if item["SK"]["S"] == ORDER_SK:
                order = self._order_from(item)
            else:
                participant = self._participant_from(item)
                by_key[participant.participant_key] = participant
        missing = [key for key in keys if key not in by_key]
        if missing:
            raise ItemNotFound(f"order {order_id} has no participant {', '.join(missing)}")
        return order, [by_key[key] for key in keys if key in by_key]

    def save_session(self, order_id: str, session: dict[str, Any]) -> None:
        """The prepared session (course, dates, role ids, operator account); the order is RUNNING."""
        self._update_order(order_id, {"session": session, "status": "RUNNING", "unstarted_since": None})

    def finish_order(
        self,
        order_id: str,
        *,
        status: Literal["COMPLETED", "PARTIAL", "FAILED", "CANCELLED"],
        counts: dict[str, int],
        group: dict[str, Any] | None,
        warnings: list[str] | None,
        failure: dict[str, Any] | None,
    ) -> None:
        self._update_order(
            order_id,
            {
                "status": status,
                "counts": counts,
                "group": group,
                "warnings": warnings or [],
                "failure": failure,
                "finished_at": unix_now(),
                "unstarted_since": None,
            },
        )

    def update_order(self, order_id: str, values: dict[str, Any]) -> OrderItem:
        """SET the non-None values, REMOVE the None ones (a change applied, its status); the order must exist."""
        return self._update_order(order_id, values)

    def _order_attributes(self, item: OrderItem) -> dict[str, Any]:
        return {
            **self._key(order_pk(item.order_id), ORDER_SK),
            "type": {"S": "order"},
            **to_dynamo(item.model_dump(mode="json", exclude_none=True)),
        }

    @staticmethod
    def _order_from(item: dict[str, Any]) -> OrderItem:
        return OrderItem.model_validate(from_dynamo(item))

    def _mark_participants_recorded(self, order_id: str) -> OrderItem:
        return self._update_order(order_id, {"participants_recorded": True})

    def _update_order(self, order_id: str, values: dict[str, Any]) -> OrderItem:
        return OrderItem.model_validate(self._update(order_pk(order_id), ORDER_SK, values))


def _creation(order: OrderItem) -> ChangeItem:
    """The first change of every order: its creation, run by the execution named after the order."""
    return ChangeItem(
        order_id=order.order_id,
        seq=1,
        kind="created",
        revision=1,
        accepted_at=order.received_at,
        execution_name=order.order_id,
        body_sha256=order.body_sha256,
        seats=order.seats,
    )
