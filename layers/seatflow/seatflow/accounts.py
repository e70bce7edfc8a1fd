"""Resolve the Moodle account of a person by email: reuse it, create it once, or refuse to guess."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from seatflow.models.order import AccountClaim, Person, normalise_email
from seatflow.moodle import (
    MoodleClient,
    MoodlePermanentError,
    MoodleUser,
    create_account,
    find_accounts_by_email,
)
from seatflow.store import OrderStore


class AccountCreationInProgress(Exception):
    """Another order is creating the account of this email right now; retried by the workflow."""


@dataclass
class AccountResolution:
    outcome: Literal["created", "reused", "ambiguous", "suspended", "vanished"]
    user: MoodleUser | None = None
    candidates: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.user is not None and self.outcome in ("created", "reused")

    @property
    def reason(self) -> str | None:
        if self.outcome == "ambiguous":
            return (
                f"this email matches {len(self.candidates)} Moodle accounts ({', '.join(self.candidates)}); "
                "seatflow does not guess: merge them or change the email, then re-run"
            )
        if self.outcome == "suspended":
            return f"the Moodle account {self.candidates[0]} of this email is suspended; reactivate it, then re-run"
        if self.outcome == "vanished":
            return (
                f"seatflow created account {self.candidates[0]} for this email, but Moodle no longer finds it "
                "by email (deleted, or email changed)"
            )
        return None


def resolve_account(
    moodle: MoodleClient,
    store: OrderStore,
    person: Person,
    *,
    order_id: str,
    claimant: str,
    known_claims: Mapping[str, AccountClaim] | None = None,
) -> AccountResolution:
    """Finds the account of `person.email`; creates it only when the email is unknown to Moodle.

    Creation is guarded by a conditional write on the normalised email, so two orders naming the same new
    email at the same moment create one account, and a retried task never creates a second one.
    `claimant` is the participant key (or "operator") on whose behalf the account is created.
    `known_claims`, read for a whole batch beforehand, saves a read per existing account: the claim is only
    looked at to tell whether this claimant created the account, and only this claimant can make that so.
    """
    email_norm = normalise_email(person.email)
    matches = find_accounts_by_email(moodle, person.email)
    if len(matches) > 1:
        return AccountResolution("ambiguous", candidates=sorted(user.username for user in matches))
    if len(matches) == 1:
        user = matches[0]
        if user.suspended:
            return AccountResolution("suspended", candidates=[user.username])
        claim = known_claims.get(email_norm) if known_claims is not None else store.get_account_claim(email_norm)
        # An account this order created on an earlier attempt is still "created" (and must still be attached).
        created_here = (
            claim is not None
            and claim.order_id == order_id
            and claim.participant_key == claimant
            and claim.moodle_user_id in (None, user.id)
        )
        if created_here and claim is not None and claim.state != "CREATED":
            store.complete_account_claim(claim, user.id, user.username)
        return AccountResolution("created" if created_here else "reused", user=user)

    claim = store.claim_account(email_norm, order_id, claimant)
    if not claim.owned:
        if claim.state == "CREATED":
            return AccountResolution("vanished", candidates=[claim.username or "?"])
        raise AccountCreationInProgress(
            f"the account of this email is being created by order {claim.order_id}; retrying"
        )
    try:
        user = create_account(
            moodle,
            firstname=person.firstname,
            lastname=person.lastname,
            email=person.email.strip(),
            city=person.city,
            institution=person.institution,
            phone=person.phone,
        )
    except MoodlePermanentError:
        # Moodle refused the batch atomically, so nothing exists: free the email for the next attempt.
        # A transient error keeps the claim: the account may exist, and only this claimant may call it "created".
        store.release_account_claim(email_norm, order_id)
        raise
    store.complete_account_claim(claim, user.id, user.username)
    return AccountResolution("created", user=user)
