"""The enrolment ledger: one item per Moodle user and course (PK `USER#<id>`, SK `COURSE#<id>`) holding every grant
seatflow's orders made there (a map keyed `<order_id>/<holder>`), and what Moodle held before the first of them.

A ledger is opened once (a conditional PutItem: the first order to get there says whether the person was already
enrolled by someone else); grants are then set and removed one key at a time (UpdateItem of one map entry), so
orders granting the same person the same course never overwrite each other. Each write answers the whole ledger
as it stands after it, which is what the caller decides on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from seatflow.models.lifecycle import EnrolmentLedger, Grant
from seatflow.store.table import (
    Table,
    from_dynamo,
    in_parallel,
    is_condition_failed,
    ledger_key,
    to_dynamo,
    unix_now,
)

LedgerKey = tuple[int, int]  # (Moodle user id, course id)


class LedgerRecords(Table):
    """What orders granted each Moodle user in each course."""

    def get_ledgers(self, keys: Sequence[LedgerKey]) -> dict[LedgerKey, EnrolmentLedger]:
        """The ledgers that exist among `keys` (one BatchGetItem per 100)."""
        wanted = list(dict.fromkeys(keys))
        items = self._batch_get([self._key(*ledger_key(user, course)) for user, course in wanted])
        ledgers = [self._ledger_from(item) for item in items]
        return {(ledger.user_id, ledger.course_id): ledger for ledger in ledgers}

    def open_ledgers(self, ledgers: Sequence[EnrolmentLedger]) -> dict[LedgerKey, EnrolmentLedger]:
        """Opens each ledger unless another order opened it first; the ledgers as they stand, by key."""
        opened = in_parallel(self._open, ledgers)
        return {(ledger.user_id, ledger.course_id): ledger for ledger in opened}

    def _open(self, ledger: EnrolmentLedger) -> EnrolmentLedger:
        pk, sk = ledger_key(ledger.user_id, ledger.course_id)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **self._key(pk, sk),
                    "type": {"S": "ledger"},
                    **to_dynamo({**ledger.model_dump(mode="json"), "opened_at": unix_now()}),
                },
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_condition_failed(exc):
                raise
            old = exc.response.get("Item")
            return (
                self._ledger_from(old)
                if old
                else self.get_ledgers([(ledger.user_id, ledger.course_id)])[(ledger.user_id, ledger.course_id)]
            )
        return ledger

    def set_grants(self, grants: Sequence[tuple[LedgerKey, Grant]]) -> list[EnrolmentLedger]:
        """Sets each grant (a new one, or new roles or dates for the same order and holder) in its open ledger;
        each ledger as it stands after the write, in order."""
        return in_parallel(lambda pair: self._set_grant(*pair), grants)

    def _set_grant(self, key: LedgerKey, grant: Grant) -> EnrolmentLedger:
        return self._write_grant(
            key,
            "SET grants.#grant = :grant",
            {":grant": grant.model_dump(mode="json")},
            grant.key,
        )

    def remove_grants(self, grants: Sequence[tuple[LedgerKey, str]]) -> list[EnrolmentLedger]:
        """Removes each grant (by its `<order_id>/<holder>` key); each ledger as it stands after, in order."""
        return in_parallel(lambda pair: self._write_grant(pair[0], "REMOVE grants.#grant", {}, pair[1]), grants)

    def _write_grant(self, key: LedgerKey, expression: str, values: dict[str, Any], grant_key: str) -> EnrolmentLedger:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self._key(*ledger_key(*key)),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeNames": {"#grant": grant_key},
            "ReturnValues": "ALL_NEW",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = to_dynamo(values)
        try:
            response = self.client.update_item(**kwargs)
        except ClientError as exc:
            if is_condition_failed(exc):
                raise LookupError(f"no ledger for user {key[0]} in course {key[1]}: open it first") from exc
            raise
        return self._ledger_from(response["Attributes"])

    @staticmethod
    def _ledger_from(item: dict[str, Any]) -> EnrolmentLedger:
        data = from_dynamo(item)
        return EnrolmentLedger.model_validate({k: v for k, v in data.items() if k not in ("PK", "SK", "type")})
