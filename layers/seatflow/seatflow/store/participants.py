"""Participant items: written in batches when an order is recorded, read by query or projection, and
written back whole with their outcome."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from botocore.exceptions import ClientError

from seatflow.models.order import OrderBody, ParticipantItem, ParticipantSummary
from seatflow.store.table import (
    BATCH_WRITE_SIZE,
    ItemNotFound,
    Table,
    from_dynamo,
    is_condition_failed,
    order_pk,
    participant_sk,
    to_dynamo,
    unix_now,
)

SUMMARY_ATTRIBUTES = tuple(ParticipantSummary.model_fields)


class ParticipantRecords(Table):
    """The participants of an order (PK `ORDER#<order_id>`, SK `PARTICIPANT#<participant_key>`)."""

    def list_participants(self, order_id: str) -> list[ParticipantItem]:
        return list(self.iter_participants(order_id))

    def iter_participants(self, order_id: str) -> Iterator[ParticipantItem]:
        """Every participant in key order (learners, then tutors), one Query page at a time."""
        return (self._participant_from(item) for item in self._participant_pages(order_id))

    def get_participant(self, order_id: str, key: str) -> ParticipantItem:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=self._key(order_pk(order_id), participant_sk(key)),
            ConsistentRead=True,
        )
        if "Item" not in response:
            raise ItemNotFound(f"order {order_id} has no participant {key}")
        return self._participant_from(response["Item"])

    def list_participant_summaries(self, order_id: str) -> list[ParticipantSummary]:
        """Each participant's outcome and nothing else (a projection: FinalizeSession reads every participant)."""
        projection = {
            "ProjectionExpression": ", ".join(f"#{name}" for name in SUMMARY_ATTRIBUTES),
            "ExpressionAttributeNames": {f"#{name}": name for name in SUMMARY_ATTRIBUTES},
        }
        return [
            ParticipantSummary.model_validate(from_dynamo(item))
            for item in self._participant_pages(order_id, projection)
        ]

    def list_participant_keys(self, order_id: str) -> list[str]:
        """The participant keys alone (a projection: the manifest needs nothing else)."""
        pages = self._participant_pages(order_id, {"ProjectionExpression": "SK"})
        return [item["SK"]["S"].removeprefix("PARTICIPANT#") for item in pages]

    def _participant_pages(self, order_id: str, projection: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": to_dynamo({":pk": order_pk(order_id), ":prefix": "PARTICIPANT#"}),
            "ConsistentRead": True,
            **(projection or {}),
        }
        while True:
            page = self.client.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save_participant_outcome(
        self,
        participant: ParticipantItem,
        *,
        status: Literal["PENDING", "ENROLLED", "NEEDS_REVIEW", "FAILED"],
        account: Literal["created", "reused"] | None,
        moodle_user_id: int | None,
        username: str | None,
        role_shortname: str | None,
        role_id: int | None,
        attached_to_operator: bool | None,
        reason: str | None = None,
        candidates: list[Any] | None = None,
        warnings: list[str] | None = None,
    ) -> ParticipantItem:
        """Writes the participant back whole with its outcome: one conditional PutItem, nothing returned
        (cheaper than an UpdateItem of ten attributes with ALL_NEW, and the caller holds the item already)."""
        saved = participant.model_copy(
            update={
                "status": status,
                "account": account,
                "moodle_user_id": moodle_user_id,
                "username": username,
                "role_shortname": role_shortname,
                "role_id": role_id,
                "attached_to_operator": attached_to_operator,
                "reason": reason,
                "candidates": candidates,
                "warnings": warnings or [],
                "updated_at": unix_now(),
            }
        )
        self.client.put_item(
            TableName=self.table_name,
            Item=self._participant_attributes(saved),
            ConditionExpression="attribute_exists(PK)",
        )
        return saved

    def save_participant_outcomes(self, outcomes: Sequence[ParticipantItem]) -> None:
        """Writes a batch's participants back whole with their outcomes: one BatchWriteItem per 25. The caller
        read them at the start of the batch; participant items are only ever written whole by their batch."""
        now = unix_now()
        items = [self._participant_attributes(p.model_copy(update={"updated_at": now})) for p in outcomes]
        for start in range(0, len(items), BATCH_WRITE_SIZE):
            self._batch_put(items[start : start + BATCH_WRITE_SIZE])

    def fail_pending_participants(self, order_id: str, keys: list[str], reason: str) -> list[str]:
        """Marks FAILED those of `keys` still PENDING or with work left (`todo`, kept for a retry to resume); an
        outcome already saved is kept. Returns them."""
        failed: list[str] = []
        for key in keys:
            try:
                self.client.update_item(
                    TableName=self.table_name,
                    Key=self._key(order_pk(order_id), participant_sk(key)),
                    UpdateExpression="SET #status = :failed, reason = :reason, updated_at = :now",
                    ConditionExpression="#status = :pending OR attribute_exists(todo)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=to_dynamo(
                        {":failed": "FAILED", ":pending": "PENDING", ":reason": reason, ":now": unix_now()}
                    ),
                )
            except ClientError as exc:
                if not is_condition_failed(exc):
                    raise
                continue
            failed.append(key)
        return failed

    @staticmethod
    def _participant_from(item: dict[str, Any]) -> ParticipantItem:
        return ParticipantItem.model_validate(from_dynamo(item))

    def _participant_items(self, order: OrderBody, now: int) -> Iterable[dict[str, Any]]:
        for key, role, position, person in order.participants_with_keys():
            yield self._participant_attributes(
                ParticipantItem(
                    order_id=order.order_id,
                    participant_key=key,
                    role=role,
                    position=position,
                    firstname=person.firstname,
                    lastname=person.lastname,
                    email=person.email,
                    email_norm=person.email_norm,
                    city=person.city,
                    institution=person.institution,
                    phone=person.phone,
                    status="PENDING",
                    updated_at=now,
                )
            )

    def _participant_attributes(self, participant: ParticipantItem) -> dict[str, Any]:
        return {
            **self._key(order_pk(participant.order_id), participant_sk(participant.participant_key)),
            "type": {"S": "participant"},
            **to_dynamo(participant.model_dump(mode="json", exclude_none=True)),
        }

    def _write_participants(self, order: OrderBody, now: int) -> None:
        items = list(self._participant_items(order, now))
        for start in range(0, len(items), BATCH_WRITE_SIZE):
            self._batch_put(items[start : start + BATCH_WRITE_SIZE])
