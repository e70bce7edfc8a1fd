"""Personal data in the table: the records about one person (the `ByEmailHash` index), erasing them while
keeping what exactly-once needs, and each order's retention item, whose expiry (TTL) erases the order's.

What an erasure keeps: keys, ids, roles, statuses, Moodle ids, `email_hash`; it adds `erased_at`. What it
takes: names, emails, city, institution, phone, usernames, and reasons that may quote usernames.

Keys (see table.py)
    retention       ORDER#<order_id>                 RETENTION   `expiration`: when the order's data goes
    erased claim    ACCOUNT-ERASED#<email_hash>      CLAIM#<order_id>#<participant_key>   a claim, email erased
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from seatflow.models.order import AccountClaim, OrderItem, normalise_email
from seatflow.models.personal import (
    ERASED,
    PARTICIPANT_OPTIONAL_PERSONAL_FIELDS,
    PARTICIPANT_PERSONAL_FIELDS,
    StoredPerson,
    email_hash,
)
from seatflow.store.table import (
    ACCOUNT_SK,
    ORDER_SK,
    Table,
    account_pk,
    from_dynamo,
    is_condition_failed,
    order_pk,
    participant_sk,
    to_dynamo,
)

EMAIL_HASH_INDEX = "ByEmailHash"
RETENTION_SK = "RETENTION"
ERASED_CLAIM_PREFIX = "ACCOUNT-ERASED#"
AT_REST = "NOT #status IN (:received, :running)"


class PersonalDataRecords(Table):
    """Finding and erasing one person's records; scheduling an order's expiry."""

    def records_about(self, hashed_email: str) -> list[tuple[str, str]]:
        """(PK, SK) of every item about this person: participants, orders they operate, erased claims.
        The index is eventually consistent: an item written a moment ago may not be listed yet."""
        keys: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": EMAIL_HASH_INDEX,
            "KeyConditionExpression": "email_hash = :hash",
            "ExpressionAttributeValues": {":hash": {"S": hashed_email}},
        }
        while True:
            page = self.client.query(**kwargs)
            keys += [(item["PK"]["S"], item["SK"]["S"]) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return keys
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_orders(self, order_ids: set[str]) -> dict[str, OrderItem]:
        found = self._batch_get([self._key(order_pk(order_id), ORDER_SK) for order_id in sorted(order_ids)])
        orders = [OrderItem.model_validate(from_dynamo(item)) for item in found]
        return {order.order_id: order for order in orders}

    def erase_participant(self, order_id: str, key: str, now: int) -> bool:
        """Erase one participant's personal data, if its order is at rest; False when already erased."""
        sets = [f"#{name} = :erased" for name in PARTICIPANT_PERSONAL_FIELDS]
        removals = [f"#{name}" for name in PARTICIPANT_OPTIONAL_PERSONAL_FIELDS]
        names = {f"#{name}": name for name in PARTICIPANT_PERSONAL_FIELDS + PARTICIPANT_OPTIONAL_PERSONAL_FIELDS}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(order_pk(order_id), participant_sk(key)),
                UpdateExpression=f"SET {', '.join(sets)}, erased_at = :now REMOVE {', '.join(removals)}",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(erased_at)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_dynamo({":erased": ERASED, ":now": now}),
            )
        except ClientError as exc:
            if is_condition_failed(exc):
                return False
            raise
        return True

    def erase_operator(self, order: OrderItem, now: int) -> bool:
        """Erase the operator's personal data from their order item: the person, the username the session
        noted, the group's name (it may hold the operator's name) and a failure's words (they may quote
        usernames). Written on condition the order is still at rest; False when already erased."""
        if order.erased_at is not None:
            return False
        session = {k: v for k, v in (order.session or {}).items() if k != "operator_username"} or None
        group = {**order.group, "name": order.order_id} if order.group else None
        failure = {**order.failure, "reason": "[erased]"} if order.failure else None
        values = {
            "operator": StoredPerson.erased().model_dump(),
            "session": session,
            "group": group,
            "failure": failure,
            "erased_at": now,
        }
        names = {f"#f{i}": name for i, name in enumerate(values)} | {"#status": "status"}
        sets = [f"#f{i} = :v{i}" for i, (_, v) in enumerate(values.items()) if v is not None]
        removals = [f"#f{i}" for i, (_, v) in enumerate(values.items()) if v is None]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removals) if removals else "")
        attr_values = to_dynamo({f":v{i}": v for i, v in enumerate(values.values()) if v is not None})
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(order_pk(order.order_id), ORDER_SK),
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(PK) AND attribute_not_exists(erased_at) AND {AT_REST}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **attr_values,
                    **to_dynamo({":received": "RECEIVED", ":running": "RUNNING"}),
                },
            )
        except ClientError as exc:
            if is_condition_failed(exc):
                return False
            raise
        return True

    def erase_account_claim(self, claim: AccountClaim, now: int) -> None:
        """The claim of an email becomes a claim of its hash: which order created which Moodle account stays
        on record, the email and the username go. One transaction, on condition the claim did not change."""
        hashed = email_hash(claim.email_norm)
        kept = {
            "state": claim.state,
            "order_id": claim.order_id,
            "participant_key": claim.participant_key,
            "moodle_user_id": claim.moodle_user_id,
            "claimed_at": claim.claimed_at,
            "email_hash": hashed,
            "erased_at": now,
            "type": "erased_claim",
        }
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": self._key(account_pk(normalise_email(claim.email_norm)), ACCOUNT_SK),
                        "ConditionExpression": "#state = :state AND claimed_at = :claimed",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": to_dynamo({":state": claim.state, ":claimed": claim.claimed_at}),
                    }
                },
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            **self._key(
                                ERASED_CLAIM_PREFIX + hashed, f"CLAIM#{claim.order_id}#{claim.participant_key}"
                            ),
                            **to_dynamo(kept),
                        },
                    }
                },
            ]
        )

    def schedule_expiry(self, order_id: str, expires_at: int) -> None:
        """(Re)write the order's retention item: DynamoDB's TTL deletes it after `expires_at`, and the stream
        of that deletion erases the order's personal data (functions/expire_personal_data)."""
        self.client.put_item(
            TableName=self.table_name,
            Item={
                **self._key(order_pk(order_id), RETENTION_SK),
                **to_dynamo({"type": "retention", "order_id": order_id, "expiration": expires_at}),
            },
        )
