"""The single table's plumbing: its keys, DynamoDB (de)serialisation, and the batched and generic writes
every kind of item shares. Nothing here knows what an order, a participant or a claim means.

Keys
    order           ORDER#<order_id>       ORDER
    participant     ORDER#<order_id>       PARTICIPANT#<participant_key>
    change          ORDER#<order_id>       CHANGE#<seq, 4 digits>
    account claim   ACCOUNT#<email_norm>   ACCOUNT
    ledger          USER#<moodle_user_id>  COURSE#<course_id>
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from seatflow.config import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

BATCH_WRITE_SIZE = 25
BATCH_GET_SIZE = 100
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


def change_sk(seq: int) -> str:
    return f"CHANGE#{seq:04d}"


def ledger_key(user_id: int, course_id: int) -> tuple[str, str]:
    return f"USER#{user_id}", f"COURSE#{course_id}"


ORDER_SK = "ORDER"
ACCOUNT_SK = "ACCOUNT"
# Items written one at a time but many per batch (claims, ledger grants) go out this many at once.
PARALLEL_WRITERS = 8

T = TypeVar("T")
R = TypeVar("R")


def in_parallel(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`work` on each item, PARALLEL_WRITERS at a time, results in order (a batch has up to 100 items)."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(PARALLEL_WRITERS, len(items))) as pool:
        return list(pool.map(work, items))


def unix_now() -> int:
    return int(time.time())


def to_dynamo(value: dict[str, Any]) -> dict[str, Any]:
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


def from_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def is_condition_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2**attempt) * random.random())


class Table:
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

    @staticmethod
    def _key(pk: str, sk: str) -> dict[str, Any]:
        return {"PK": {"S": pk}, "SK": {"S": sk}}

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

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        pending: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
        for attempt in range(MAX_BATCH_ATTEMPTS):
            response = self.client.batch_write_item(RequestItems={self.table_name: pending})
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            _backoff(attempt)
        raise RuntimeError(f"DynamoDB left {len(pending)} participant item(s) unprocessed after retries")

    def _update(self, pk: str, sk: str, values: dict[str, Any], *, return_item: bool = True) -> dict[str, Any]:
        """SET the non-None values, REMOVE the None ones; the item must exist. Returns the new item (or {})."""
        values = {**values, "updated_at": unix_now()} if sk != ACCOUNT_SK else values
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
            if is_condition_failed(exc):
                raise ItemNotFound(f"no item {pk} / {sk}") from exc
            raise
        return from_dynamo(response["Attributes"]) if return_item else {}
