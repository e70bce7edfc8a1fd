"""DynamoDB data access: the one table of docs/design.md (PK/SK), pydantic models in and out.

Keys
    order           ORDER#<order_id>       ORDER
    participant     ORDER#<order_id>       PARTICIPANT#<participant_key>
    account claim   ACCOUNT#<email_norm>   ACCOUNT

Recording an order never loses it and never half-writes it silently: the order item is put first
(conditional on not existing), the participants follow in BatchWriteItem chunks of 25, then the order
item is marked `participants_recorded`. A retry of the same body completes a partial write; the workflow
is only started once `participants_recorded` is true, so the re-write can never reset an outcome.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from seatflow.config import get_settings
from seatflow.models.order import (
    AccountClaim,
    OrderBody,
    OrderItem,
    ParticipantItem,
    ParticipantSummary,
    RecordResult,
    StoredProduct,
    normalise_email,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

BATCH_WRITE_SIZE = 25
BATCH_GET_SIZE = 100
SUMMARY_ATTRIBUTES = tuple(ParticipantSummary.model_fields)
MAX_BATCH_ATTEMPTS = 8

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ItemNotFound(LookupError):
    """The order or participant asked for does not exist."""


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def participant_sk(key: str) -> str:
    return f"PARTICIPANT#{key}"


def account_pk(email_norm: str) -> str:
    return f"ACCOUNT#{email_norm}"


ORDER_SK = "ORDER"
ACCOUNT_SK = "ACCOUNT"


def _now() -> int:
    return int(time.time())


def _to_dynamo(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in value.items() if v is not None}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: ints stay ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def _from_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _is(error: ClientError, code: str) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == code)


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2**attempt) * random.random())


class OrderStore:
    """The single table. The boto3 client is created on first use, once, under a lock."""

    def __init__(self, table_name: str | None = None, client: DynamoDBClient | None = None) -> None:
        self._table_name = table_name
        self._client = client
        self._lock = threading.Lock()

    @property
    def table_name(self) -> str:
        return self._table_name or get_settings().table_name

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = boto3.client("dynamodb")
        return self._client

    # ------------------------------------------------------------------------------------------ orders

    def record_order(self, order: OrderBody, body_sha256: str) -> RecordResult:
        """Write a new order and its participants; a replay is "same", a different body "conflict"."""
        now = _now()
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
        )
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=self._order_attributes(item),
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is(exc, "ConditionalCheckFailedException"):
                raise
            old = exc.response.get("Item")
            existing = self._order_from(old) if old else self.get_order(order.order_id)
            if existing is None:  # deleted in between: vanishingly rare, start over
                return self.record_order(order, body_sha256)
            if existing.body_sha256 != body_sha256:
                return RecordResult(outcome="conflict", order=existing)
            if not existing.participants_recorded:
                self._write_participants(order, now)
                existing = self._mark_participants_recorded(order.order_id)
            return RecordResult(outcome="same", order=existing)
        self._write_participants(order, now)
        return RecordResult(outcome="created", order=self._mark_participants_recorded(order.order_id))

    def mark_running(self, order_id: str, execution_arn: str) -> None:
        """RECEIVED -> RUNNING with the execution; a later status (the workflow got there first) is kept."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(order_pk(order_id), ORDER_SK),
                UpdateExpression="SET #status = :running, execution_arn = :arn, updated_at = :now",
                ConditionExpression="attribute_exists(PK) AND #status = :received",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_to_dynamo(
                    {":running": "RUNNING", ":received": "RECEIVED", ":arn": execution_arn, ":now": _now()}
                ),
            )
        except ClientError as exc:
            if not _is(exc, "ConditionalCheckFailedException"):
                raise
            self._update_order(order_id, {"execution_arn": execution_arn})

    def get_order(self, order_id: str) -> OrderItem | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=self._key(order_pk(order_id), ORDER_SK), ConsistentRead=True
        )
        item = response.get("Item")
        return self._order_from(item) if item else None

    def save_session(self, order_id: str, session: dict[str, Any]) -> None:
        """The prepared session (course, dates, role ids, operator account); the order is RUNNING."""
        self._update_order(order_id, {"session": session, "status": "RUNNING"})

    def finish_order(
        self,
        order_id: str,
        *,
        status: Literal["COMPLETED", "PARTIAL", "FAILED"],
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
                "finished_at": _now(),
            },
        )

    # ------------------------------------------------------------------------------------ participants

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
            ParticipantSummary.model_validate(_from_dynamo(item))
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
            "ExpressionAttributeValues": _to_dynamo({":pk": order_pk(order_id), ":prefix": "PARTICIPANT#"}),
            "ConsistentRead": True,
            **(projection or {}),
        }
        while True:
            page = self.client.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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
                "updated_at": _now(),
            }
        )
        self.client.put_item(
            TableName=self.table_name,
            Item=self._participant_attributes(saved),
            ConditionExpression="attribute_exists(PK)",
        )
        return saved

    def fail_pending_participants(self, order_id: str, keys: list[str], reason: str) -> list[str]:
        """Marks FAILED those of `keys` still PENDING (an outcome already saved is kept); returns them."""
        failed: list[str] = []
        for key in keys:
            try:
                self.client.update_item(
                    TableName=self.table_name,
                    Key=self._key(order_pk(order_id), participant_sk(key)),
                    UpdateExpression="SET #status = :failed, reason = :reason, updated_at = :now",
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=_to_dynamo(
                        {":failed": "FAILED", ":pending": "PENDING", ":reason": reason, ":now": _now()}
                    ),
                )
            except ClientError as exc:
                if not _is(exc, "ConditionalCheckFailedException"):
                    raise
                continue
            failed.append(key)
        return failed

    # ---------------------------------------------------------------------------------- account claims

    def claim_account(self, email_norm: str, order_id: str, participant_key: str) -> AccountClaim:
        """Claim the right to create the account of this email. `owned` says whether the caller holds it
        (a new claim, or this same order and participant claiming again); otherwise the other claim."""
        email_norm = normalise_email(email_norm)
        claim = AccountClaim(
            email_norm=email_norm,
            state="CREATING",
            order_id=order_id,
            participant_key=participant_key,
            claimed_at=_now(),
        )
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **self._key(account_pk(email_norm), ACCOUNT_SK),
                    **_to_dynamo(claim.model_dump(exclude={"owned"})),
                },
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is(exc, "ConditionalCheckFailedException"):
                raise
            existing = self.get_account_claim(email_norm)
            if existing is None:  # released in between
                return self.claim_account(email_norm, order_id, participant_key)
            existing.owned = existing.order_id == order_id and existing.participant_key == participant_key
            return existing
        claim.owned = True
        return claim

    def complete_account_claim(self, claim: AccountClaim, moodle_user_id: int, username: str) -> AccountClaim:
        """The account exists: the claim says which, for good. Written whole (the claimant holds it), on the
        condition that the claim is still this claimant's."""
        done = claim.model_copy(update={"state": "CREATED", "moodle_user_id": moodle_user_id, "username": username})
        self.client.put_item(
            TableName=self.table_name,
            Item={
                **self._key(account_pk(done.email_norm), ACCOUNT_SK),
                **_to_dynamo(done.model_dump(exclude={"owned"}, exclude_none=True)),
            },
            ConditionExpression="order_id = :order AND participant_key = :claimant",
            ExpressionAttributeValues=_to_dynamo({":order": claim.order_id, ":claimant": claim.participant_key}),
        )
        return done

    def release_account_claim(self, email_norm: str, order_id: str) -> bool:
        """Drop a claim this order still holds in CREATING (creation failed); True when deleted."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=self._key(account_pk(normalise_email(email_norm)), ACCOUNT_SK),
                ConditionExpression="#state = :creating AND order_id = :order",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_to_dynamo({":creating": "CREATING", ":order": order_id}),
            )
        except ClientError as exc:
            if _is(exc, "ConditionalCheckFailedException"):
                return False
            raise
        return True

    def get_account_claims(self, email_norms: Iterable[str]) -> dict[str, AccountClaim]:
        """The claims on these emails that exist, by normalised email (one BatchGetItem per 100)."""
        wanted = sorted({normalise_email(email) for email in email_norms})
        claims = [
            self._claim_from(item) for item in self._batch_get([self._key(account_pk(e), ACCOUNT_SK) for e in wanted])
        ]
        return {claim.email_norm: claim for claim in claims}

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of `keys` that exist, in any order: BatchGetItem by 100, unprocessed keys retried."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_SIZE):
            request: dict[str, Any] = {
                self.table_name: {"Keys": keys[start : start + BATCH_GET_SIZE], "ConsistentRead": True}
            }
            for attempt in range(MAX_BATCH_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                found.extend(response.get("Responses", {}).get(self.table_name, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                _backoff(attempt)
            else:
                raise RuntimeError(f"DynamoDB kept {len(request[self.table_name]['Keys'])} key(s) unprocessed")
        return found

    def get_account_claim(self, email_norm: str) -> AccountClaim | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=self._key(account_pk(normalise_email(email_norm)), ACCOUNT_SK),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return self._claim_from(item) if item else None

    @staticmethod
    def _claim_from(item: dict[str, Any]) -> AccountClaim:
        data = _from_dynamo(item)
        return AccountClaim.model_validate({k: v for k, v in data.items() if k not in ("PK", "SK")})

    # ---------------------------------------------------------------------------------------- internals

    @staticmethod
    def _key(pk: str, sk: str) -> dict[str, Any]:
        return {"PK": {"S": pk}, "SK": {"S": sk}}

    def _order_attributes(self, item: OrderItem) -> dict[str, Any]:
        return {
            **self._key(order_pk(item.order_id), ORDER_SK),
            "type": {"S": "order"},
            **_to_dynamo(item.model_dump(mode="json", exclude_none=True)),
        }

    @staticmethod
    def _order_from(item: dict[str, Any]) -> OrderItem:
        return OrderItem.model_validate(_from_dynamo(item))

    @staticmethod
    def _participant_from(item: dict[str, Any]) -> ParticipantItem:
        return ParticipantItem.model_validate(_from_dynamo(item))

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
            **_to_dynamo(participant.model_dump(mode="json", exclude_none=True)),
        }

    def _write_participants(self, order: OrderBody, now: int) -> None:
        items = list(self._participant_items(order, now))
        for start in range(0, len(items), BATCH_WRITE_SIZE):
            self._batch_put(items[start : start + BATCH_WRITE_SIZE])

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        pending: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
        for attempt in range(MAX_BATCH_ATTEMPTS):
            response = self.client.batch_write_item(RequestItems={self.table_name: pending})
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            _backoff(attempt)
        raise RuntimeError(f"DynamoDB left {len(pending)} participant item(s) unprocessed after retries")

    def _mark_participants_recorded(self, order_id: str) -> OrderItem:
        return self._update_order(order_id, {"participants_recorded": True})

    def _update_order(self, order_id: str, values: dict[str, Any]) -> OrderItem:
        return OrderItem.model_validate(self._update(order_pk(order_id), ORDER_SK, values))

    def _update(self, pk: str, sk: str, values: dict[str, Any], *, return_item: bool = True) -> dict[str, Any]:
        """SET the non-None values, REMOVE the None ones; the item must exist. Returns the new item (or {})."""
        values = {**values, "updated_at": _now()} if sk != ACCOUNT_SK else values
        names: dict[str, str] = {}
        assignments: list[str] = []
        removals: list[str] = []
        attr_values: dict[str, Any] = {}
        for index, (name, value) in enumerate(values.items()):
            names[f"#f{index}"] = name
            if value is None:
                removals.append(f"#f{index}")
            else:
                assignments.append(f"#f{index} = :v{index}")
                attr_values[f":v{index}"] = _serializer.serialize(value)
        expression = ""
        if assignments:
            expression += "SET " + ", ".join(assignments)
        if removals:
            expression += " REMOVE " + ", ".join(removals)
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self._key(pk, sk),
            "UpdateExpression": expression.strip(),
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW" if return_item else "NONE",
        }
        if attr_values:
            kwargs["ExpressionAttributeValues"] = attr_values
        try:
            response = self.client.update_item(**kwargs)
        except ClientError as exc:
            if _is(exc, "ConditionalCheckFailedException"):
                raise ItemNotFound(f"no item {pk} / {sk}") from exc
            raise
        return _from_dynamo(response["Attributes"]) if return_item else {}
