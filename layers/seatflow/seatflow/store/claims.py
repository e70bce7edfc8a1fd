"""The account-claim protocol: one conditional item per normalised email guards the creation of its Moodle
account across orders. A claim is taken in CREATING with the username it will ask Moodle for, completed as
CREATED with the account's id, or released when Moodle refused the creation. A CREATING claim older than the
lease is taken over, so a batch that gave up never blocks an email for good.

A batch's claims are written in parallel: each is one conditional PutItem, and a batch has up to 25.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from seatflow.models.order import AccountClaim, normalise_email
from seatflow.store.table import (
    ACCOUNT_SK,
    Table,
    account_pk,
    from_dynamo,
    in_parallel,
    is_condition_failed,
    to_dynamo,
    unix_now,
)

# Longer than any create call can take (the client's timeout is 30 s, Step Functions' retries back off).
CLAIM_LEASE_SECONDS = 120


@dataclass(frozen=True)
class ClaimRequest:
    email_norm: str
    order_id: str
    participant_key: str
    username: str  # the username this claimant will ask Moodle for


class AccountClaims(Table):
    """The account claims (PK `ACCOUNT#<email_norm>`, SK `ACCOUNT`)."""

    def claim_accounts(self, requests: Sequence[ClaimRequest], *, now: int | None = None) -> dict[str, AccountClaim]:
        """Claim the right to create the account of each email; the claims that stand, by normalised email.

        The caller owns (``owned``) a claim that is new, already its own in CREATING (a retry, which may ask for
        another username), or a CREATING claim older than the lease. Otherwise the standing claim is returned.
        """
        at = now or unix_now()
        claims = in_parallel(lambda request: self._claim(request, at), requests)
        return {claim.email_norm: claim for claim in claims}

    def _claim(self, request: ClaimRequest, now: int) -> AccountClaim:
        claim = AccountClaim(
            email_norm=normalise_email(request.email_norm),
            state="CREATING",
            order_id=request.order_id,
            participant_key=request.participant_key,
            username=request.username,
            claimed_at=now,
        )
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **self._key(account_pk(claim.email_norm), ACCOUNT_SK),
                    **to_dynamo(claim.model_dump(exclude={"owned"}, exclude_none=True)),
                },
                ConditionExpression=(
                    "attribute_not_exists(PK)"
                    " OR (order_id = :order AND participant_key = :claimant AND #state = :creating)"
                    " OR (#state = :creating AND claimed_at < :stale)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_dynamo(
                    {
                        ":order": request.order_id,
                        ":claimant": request.participant_key,
                        ":creating": "CREATING",
                        ":stale": now - CLAIM_LEASE_SECONDS,
                    }
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_condition_failed(exc):
                raise
            old = exc.response.get("Item")
            existing = self._claim_from(old) if old else self.get_account_claim(claim.email_norm)
            if existing is None:  # released in between
                return self._claim(request, now)
            existing.owned = (
                existing.order_id == request.order_id and existing.participant_key == request.participant_key
            )
            return existing
        claim.owned = True
        return claim

    def complete_account_claims(self, done: Sequence[tuple[AccountClaim, int, str]]) -> None:
        """The accounts exist (claim, Moodle user id, username): each claim says which, for good; written on
        the condition that it is still its claimant's."""
        in_parallel(lambda pair: self._complete(*pair), done)

    def _complete(self, claim: AccountClaim, moodle_user_id: int, username: str) -> None:
        finished = claim.model_copy(update={"state": "CREATED", "moodle_user_id": moodle_user_id, "username": username})
        self.client.put_item(
            TableName=self.table_name,
            Item={
                **self._key(account_pk(finished.email_norm), ACCOUNT_SK),
                **to_dynamo(finished.model_dump(exclude={"owned"}, exclude_none=True)),
            },
            # Absent too: a duplicate invocation of this batch (the first one still running after a timeout) may
            # have released the claim meanwhile; the account is ours all the same.
            ConditionExpression="attribute_not_exists(PK) OR (order_id = :order AND participant_key = :claimant)",
            ExpressionAttributeValues=to_dynamo({":order": claim.order_id, ":claimant": claim.participant_key}),
        )

    def release_account_claims(self, email_norms: Sequence[str], order_id: str) -> None:
        """Drop the claims this order still holds in CREATING (the creation was refused, or not needed)."""
        in_parallel(lambda email: self._release(email, order_id), email_norms)

    def _release(self, email_norm: str, order_id: str) -> bool:
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
