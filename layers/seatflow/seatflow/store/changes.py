"""Change items and the order's turn: each change accepted for an order (created, amended, retried, cancelled) is a
CHANGE#<seq> item beside the order, and at most one of them holds the order's turn (`active_change`) and runs.

Accepting a change is one transaction: the order's counter moves on (on condition nobody else moved it), the change
is put, and it takes the turn if the turn is free. The change that ends hands the turn to the next one queued, on
condition no change was accepted meanwhile; otherwise it looks again.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from seatflow.models.lifecycle import ChangeItem
from seatflow.models.order import OrderItem
from seatflow.store.table import (
    ORDER_SK,
    Table,
    change_sk,
    from_dynamo,
    is_condition_failed,
    order_pk,
    to_dynamo,
    unix_now,
)

HAND_OVER_ATTEMPTS = 10


def _transaction_cancelled(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("TransactionCanceledException", "TransactionConflict")


class ChangeRecords(Table):
    """The changes of an order (PK `ORDER#<order_id>`, SK `CHANGE#<seq>`) and the order's turn."""

    def list_changes(self, order_id: str) -> list[ChangeItem]:
        """Every change of the order, in the order they were accepted."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": to_dynamo({":pk": order_pk(order_id), ":prefix": "CHANGE#"}),
            "ConsistentRead": True,
        }
        changes: list[ChangeItem] = []
        while True:
            page = self.client.query(**kwargs)
            changes.extend(self._change_from(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return changes
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_change(self, order_id: str, seq: int) -> ChangeItem | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=self._key(order_pk(order_id), change_sk(seq)), ConsistentRead=True
        )
        item = response.get("Item")
        return self._change_from(item) if item else None

    def put_first_change(self, change: ChangeItem) -> None:
        """The order's creation, written with the order (again on a replay: a no-op once it exists)."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=self._change_attributes(change),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if not is_condition_failed(exc):
                raise

    def accept_change(self, order: OrderItem, change: ChangeItem, order_values: dict[str, Any]) -> bool:
        """Records `change` (seq = order.change_count + 1) and `order_values` on the order, taking the order's turn
        if `order` (as read) had it free. False when the order moved since it was read: read it and decide again."""
        take_turn = order.active_change is None
        values = {**order_values, "change_count": change.seq, "updated_at": unix_now()}
        if take_turn:
            values["active_change"] = change.seq
        names = {f"#f{i}": name for i, name in enumerate(values)}
        attr_values = {f":v{i}": value for i, value in enumerate(values.values())}
        condition = "(attribute_not_exists(change_count) OR change_count = :seen)"
        attr_values[":seen"] = order.change_count
        if take_turn:
            condition += " AND attribute_not_exists(active_change)"
        else:
            condition += " AND active_change = :active"
            attr_values[":active"] = order.active_change
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": self._key(order_pk(order.order_id), ORDER_SK),
                            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
                            "ConditionExpression": f"attribute_exists(PK) AND {condition}",
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": to_dynamo(attr_values),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": self._change_attributes(change),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _transaction_cancelled(exc):
                return False
            raise
        return True

    def update_change(self, order_id: str, seq: int, values: dict[str, Any]) -> ChangeItem:
        return ChangeItem.model_validate(self._update(order_pk(order_id), change_sk(seq), values))

    def hand_over_turn(self, order_id: str, seq: int) -> ChangeItem | None:
        """Change `seq` has ended: the turn goes to the first change queued, or is freed. The change now holding
        the turn, or None. Safe to repeat: a change that already handed over names the same change again."""
        for _ in range(HAND_OVER_ATTEMPTS):
            ended = self.get_change(order_id, seq)
            if ended is not None and ended.handed_to is not None:
                return self.get_change(order_id, ended.handed_to)
            order = self._order_turn(order_id)
            if order.get("active_change") != seq:
                return None  # not (or no longer) this change's turn
            queued = [c for c in self.list_changes(order_id) if c.state == "QUEUED" and c.seq != seq]
            following = min(queued, key=lambda c: c.seq) if queued else None
            if self._pass_turn(order_id, seq, order.get("change_count", 1), following):
                return following
        raise RuntimeError(f"order {order_id}: the turn could not be handed over (changes kept arriving)")

    def _order_turn(self, order_id: str) -> dict[str, Any]:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=self._key(order_pk(order_id), ORDER_SK),
            ConsistentRead=True,
            ProjectionExpression="active_change, change_count",
        )
        return from_dynamo(response.get("Item", {}))

    def _pass_turn(self, order_id: str, seq: int, seen: int, following: ChangeItem | None) -> bool:
        order_update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self._key(order_pk(order_id), ORDER_SK),
            "ConditionExpression": (
                "active_change = :mine AND (attribute_not_exists(change_count) OR change_count = :seen)"
            ),
        }
        values: dict[str, Any] = {":mine": seq, ":seen": seen}
        items: list[dict[str, Any]] = []
        if following is None:
            order_update["UpdateExpression"] = "REMOVE active_change"
        else:
            order_update["UpdateExpression"] = "SET active_change = :next"
            values[":next"] = following.seq
            items.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": self._key(order_pk(order_id), change_sk(seq)),
                        "UpdateExpression": "SET handed_to = :next",
                        "ExpressionAttributeValues": to_dynamo({":next": following.seq}),
                    }
                }
            )
        order_update["ExpressionAttributeValues"] = to_dynamo(values)
        try:
            self.client.transact_write_items(TransactItems=[{"Update": order_update}, *items])
        except ClientError as exc:
            if _transaction_cancelled(exc):
                return False
            raise
        return True

    def _change_attributes(self, change: ChangeItem) -> dict[str, Any]:
        return {
            **self._key(order_pk(change.order_id), change_sk(change.seq)),
            "type": {"S": "change"},
            **to_dynamo(change.model_dump(mode="json", exclude_none=True)),
        }

    @staticmethod
    def _change_from(item: dict[str, Any]) -> ChangeItem:
        return ChangeItem.model_validate(from_dynamo(item))
