"""The account-claim protocol: one conditional item per normalised email guards the creation of its Moodle
account across orders (claim in CREATING, complete as CREATED, or release when creation failed)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from seatflow.models.order import AccountClaim, normalise_email
from seatflow.store.table import ACCOUNT_SK, Table, account_pk, from_dynamo, is_condition_failed, to_dynamo, unix_now


class AccountClaims(Table):
    """The account claims (PK `ACCOUNT#<email_norm>`, SK `ACCOUNT`)."""

    def claim_account(self, email_norm: str, order_id: str, participant_key: str) -> AccountClaim:
        """Claim the right to create the account of this email. `owned` says whether the caller holds it
        (a new claim, or this same order and participant claiming again); otherwise the other claim."""
        email_norm = normalise_email(email_norm)
        claim = AccountClaim(
            email_norm=email_norm,
            state="CREATING",
            order_id=order_id,
            participant_key=participant_key,
            claimed_at=unix_now(),
        )
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **self._key(account_pk(email_norm), ACCOUNT_SK),
                    **to_dynamo(claim.model_dump(exclude={"owned"})),
                },
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_condition_failed(exc):
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
                **to_dynamo(done.model_dump(exclude={"owned"}, exclude_none=True)),
            },
            ConditionExpression="order_id = :order AND participant_key = :claimant",
            ExpressionAttributeValues=to_dynamo({":order": claim.order_id, ":claimant": claim.participant_key}),
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
                ExpressionAttributeValues=to_dynamo({":creating": "CREATING", ":order": order_id}),
            )
        except ClientError as exc:
            if is_condition_failed(exc):
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
        data = from_dynamo(item)
        return AccountClaim.model_validate({k: v for k, v in data.items() if k not in ("PK", "SK")})
