"""Resolve the Moodle accounts of a batch of people by email: reuse, create exactly once, or refuse to guess.

One batch costs Moodle a handful of calls whatever its size: the email lookups (one per busy domain), one
availability check of the usernames, one ``core_user_create_users``. Creation is guarded by account claims in
DynamoDB (``store.claims``), so two orders naming the same new email create one account, and a retried batch never
creates a second one. The races this module closes (see docs/decisions/0009-batch-account-resolution.md):
- a create refused because another create took the username a moment earlier (``dmlwriteexception``): re-check by
  username and email, then take the next free name;
- a create that landed late (after a timeout): the account found for the email is ours only if it has the
  username the claim asked for; otherwise it is someone else's and is "reused", never attached to the operator;
- a claim left CREATING by a batch that gave up: taken over after a lease;
- an email claimed by another order whose create finished after our lookup: that account is "reused".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from seatflow.models.order import AccountClaim, Person, normalise_email
from seatflow.moodle import (
    DatabaseWriteError,
    InvalidParameterError,
    MoodleClient,
    MoodlePermanentError,
    MoodleUser,
    NewAccount,
    create_accounts,
    find_accounts_by_emails,
    taken_usernames,
)
from seatflow.observability import logger
from seatflow.store import ClaimRequest, OrderStore

from .outcome import AccountCreationInProgress, AccountResolution
from .usernames import allocate_free_usernames

# A create refused for a username another create took meanwhile is tried again with the next free name.
MAX_USERNAME_RACES = 3


@dataclass(frozen=True)
class AccountRequest:
    claimant: str  # the participant key, or "operator"
    person: Person


@dataclass
class BatchResolution:
    resolved: dict[str, AccountResolution] = field(default_factory=dict)
    waiting: dict[str, AccountCreationInProgress] = field(default_factory=dict)


def _email_key(email: str) -> str:
    return email.strip().casefold()


def _new_account(request: AccountRequest, username: str) -> NewAccount:
    p = request.person
    return NewAccount(
        username=username,
        firstname=p.firstname,
        lastname=p.lastname,
        email=p.email.strip(),
        city=p.city,
        institution=p.institution,
        phone=p.phone,
    )


class _BatchResolver:
    def __init__(self, moodle: MoodleClient, store: OrderStore, order_id: str, now: int) -> None:
        self.moodle = moodle
        self.store = store
        self.order_id = order_id
        self.now = now
        self.result = BatchResolution()
        self.completed: list[tuple[AccountClaim, int, str]] = []
        self.released: list[str] = []

    def ours(self, claim: AccountClaim | None, claimant: str) -> bool:
        return claim is not None and claim.order_id == self.order_id and claim.participant_key == claimant

    def settle_existing(
        self, request: AccountRequest, matches: list[MoodleUser], claim: AccountClaim | None
    ) -> AccountResolution:
        if len(matches) > 1:
            return AccountResolution("ambiguous", candidates=sorted(user.username for user in matches))
        user = matches[0]
        if user.suspended:
            return AccountResolution("suspended", candidates=[user.username])
        if claim is not None and self.ours(claim, request.claimant):
            # Ours only if it is the account our claim asked Moodle for: a stranger's account that appeared for
            # this email (between a failed create and this retry) is reused, never attached to the operator.
            created_here = (
                claim.moodle_user_id == user.id if claim.moodle_user_id is not None else claim.username == user.username
            )
            if created_here:
                if claim.state != "CREATED":
                    self.completed.append((claim, user.id, user.username))
                return AccountResolution("created", user=user)
            if claim.state == "CREATING":
                self.released.append(claim.email_norm)
        return AccountResolution("reused", user=user)

    def resolve(self, requests: Sequence[AccountRequest]) -> BatchResolution:
        found = find_accounts_by_emails(self.moodle, [r.person.email for r in requests])
        claims = self.store.get_account_claims(normalise_email(r.person.email) for r in requests)
        unknown: list[AccountRequest] = []
        for request in requests:
            matches = found.get(_email_key(request.person.email), [])
            claim = claims.get(normalise_email(request.person.email))
            if matches:
                self.result.resolved[request.claimant] = self.settle_existing(request, matches, claim)
            elif claim is not None and self.ours(claim, request.claimant) and claim.state == "CREATED":
                self.result.resolved[request.claimant] = AccountResolution(
                    "vanished", candidates=[claim.username or "?"]
                )
            else:
                unknown.append(request)
        if unknown:
            self.create_unknown(unknown, claims)
        self.store.complete_account_claims(self.completed)
        self.store.release_account_claims(self.released, self.order_id)
        return self.result

    def create_unknown(self, requests: list[AccountRequest], claims: dict[str, AccountClaim]) -> None:
        preferred = {
            r.claimant: claim.username
            for r in requests
            if (claim := claims.get(normalise_email(r.person.email))) is not None
            and self.ours(claim, r.claimant)
            and claim.username
        }
        usernames = allocate_free_usernames(self.moodle, requests, preferred)
        taken = self.store.claim_accounts(
            [
                ClaimRequest(normalise_email(r.person.email), self.order_id, r.claimant, usernames[r.claimant])
                for r in requests
            ],
            now=self.now,
        )
        to_create: list[AccountRequest] = []
        claimed_elsewhere: list[AccountRequest] = []
        for request in requests:
            claim = taken[normalise_email(request.person.email)]
            if claim.owned:
                to_create.append(request)
            elif claim.state == "CREATED":
                claimed_elsewhere.append(request)  # another order created it after our lookup
            else:
                self.result.waiting[request.claimant] = AccountCreationInProgress(
                    f"the account of this email is being created by order {claim.order_id}; retrying"
                )
        if claimed_elsewhere:
            self.reuse_created_elsewhere(claimed_elsewhere, taken)
        if to_create:
            self.create(to_create, {r.claimant: taken[normalise_email(r.person.email)] for r in to_create})

    def reuse_created_elsewhere(self, requests: list[AccountRequest], claims: dict[str, AccountClaim]) -> None:
        found = find_accounts_by_emails(self.moodle, [r.person.email for r in requests])
        for request in requests:
            matches = found.get(_email_key(request.person.email), [])
            claim = claims[normalise_email(request.person.email)]
            if matches:
                self.result.resolved[request.claimant] = self.settle_existing(request, matches, claim)
            else:
                self.result.resolved[request.claimant] = AccountResolution(
                    "vanished", candidates=[claim.username or "?"]
                )

    def create(self, requests: list[AccountRequest], claims: dict[str, AccountClaim]) -> None:
        try:
            users = create_accounts(self.moodle, [_new_account(r, claims[r.claimant].username or "") for r in requests])
        except MoodlePermanentError as refusal:
            # Moodle mails every user it inserted before the bad one, even though it rolls them back: after a
            # refusal, create one at a time, which mails nobody about an account that does not exist.
            logger.warning(
                "account batch refused; creating one at a time",
                extra={"accounts": len(requests), "errorcode": refusal.errorcode},
            )
            for request in requests:
                self.create_alone(request, claims[request.claimant])
            return
        for request, user in zip(requests, users, strict=True):
            self.completed.append((claims[request.claimant], user.id, user.username))
            self.result.resolved[request.claimant] = AccountResolution("created", user=user)

    def create_alone(self, request: AccountRequest, claim: AccountClaim) -> None:
        for _ in range(MAX_USERNAME_RACES + 1):
            try:
                [user] = create_accounts(self.moodle, [_new_account(request, claim.username or "")])
            except (DatabaseWriteError, InvalidParameterError) as refusal:
                # Possibly a race: someone took this username, or our own earlier create landed late.
                matches = find_accounts_by_emails(self.moodle, [request.person.email])[_email_key(request.person.email)]
                if matches:
                    self.result.resolved[request.claimant] = self.settle_existing(request, matches, claim)
                    return
                if not taken_usernames(self.moodle, [claim.username or ""]):
                    self.refuse(request, claim, refusal)  # not a race: Moodle refuses this person
                    return
                retaken = allocate_free_usernames(self.moodle, [request], {}, exclude={claim.username or ""})
                if not retaken:
                    self.refuse(request, claim, refusal)
                    return
                claim = self.store.claim_accounts(
                    [ClaimRequest(claim.email_norm, self.order_id, request.claimant, retaken[request.claimant])],
                    now=self.now,
                )[claim.email_norm]
                if not claim.owned:
                    self.result.waiting[request.claimant] = AccountCreationInProgress(
                        f"the account of this email is being created by order {claim.order_id}; retrying"
                    )
                    return
                continue
            except MoodlePermanentError as refusal:
                self.refuse(request, claim, refusal)
                return
            self.completed.append((claim, user.id, user.username))
            self.result.resolved[request.claimant] = AccountResolution("created", user=user)
            return
        self.refuse(request, claim, None)

    def refuse(self, request: AccountRequest, claim: AccountClaim, refusal: MoodlePermanentError | None) -> None:
        # Moodle refused this one atomically, so nothing exists: free the email for the next attempt.
        self.released.append(claim.email_norm)
        words = f"{refusal.errorcode or refusal.exception}: {refusal.message}" if refusal else "usernames kept racing"
        self.result.resolved[request.claimant] = AccountResolution(
            "refused", refusal=words, refusal_code=(refusal.errorcode or refusal.exception) if refusal else None
        )


def resolve_accounts(
    moodle: MoodleClient,
    store: OrderStore,
    requests: Sequence[AccountRequest],
    *,
    order_id: str,
    now: int | None = None,
) -> BatchResolution:
    """The account of each request's email: found and reused, created once, or a reason a person must decide.

    A transient Moodle error propagates: the claims taken stay (with the usernames asked for), and the re-run
    recognises an account created by a call that timed out.
    """
    if not requests:
        return BatchResolution()
    return _BatchResolver(moodle, store, order_id, now or int(time.time())).resolve(requests)


def resolve_account(
    moodle: MoodleClient, store: OrderStore, person: Person, *, order_id: str, claimant: str
) -> AccountResolution:
    """One person's account (the operator's): ``resolve_accounts`` for a batch of one."""
    batch = resolve_accounts(moodle, store, [AccountRequest(claimant, person)], order_id=order_id)
    if claimant in batch.waiting:
        raise batch.waiting[claimant]
    return batch.resolved[claimant]
