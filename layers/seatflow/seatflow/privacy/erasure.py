"""Erasing personal data: one person everywhere (POST /erasures), or one order once its retention is over.

Moodle is never touched: its own privacy tools erase the account there. seatflow erases its copies and keeps
what exactly-once needs (ids, keys, statuses, Moodle ids, the email's hash), so a replayed or amended order
still recognises an erased person, and a repeated erasure finds the same records and changes nothing.

A person whose order is still being fulfilled (RECEIVED or RUNNING), or whose account is being created right
now, is not erased yet: the workflow needs their data for a few more minutes (`PersonBusy`, retried later).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from seatflow.models.order import AccountClaim, normalise_email
from seatflow.models.personal import email_hash
from seatflow.observability import logger
from seatflow.store import CLAIM_LEASE_SECONDS, ORDER_SK, RETENTION_SK, OrderStore, store_for_settings
from seatflow.store.personal_data import ERASED_CLAIM_PREFIX

BUSY = ("RECEIVED", "RUNNING")


@dataclass
class PersonBusy(Exception):
    """The person's data is still in use by a workflow; try again after `retry_after` seconds."""

    reason: str
    retry_after: int = 60

    def __str__(self) -> str:
        return self.reason


class ErasureReport(BaseModel):
    """What an erasure found: every record about the person now holds none of their personal data."""

    erased: int = Field(description="Records about this person, now without their personal data")
    participants: int = Field(description="Participant records (one per order that named the person)")
    operators: int = Field(description="Orders the person bought (operator)")
    account_claims: int = Field(description="The record of the Moodle account seatflow created for the email")


def erase_person(store: OrderStore, email: str, *, now: int | None = None) -> ErasureReport:
    """Erase one person's personal data from every record; the same answer when asked again."""
    at = int(time.time()) if now is None else now
    hashed = email_hash(email)
    keys = store.records_about(hashed)
    order_keys = [(pk, sk) for pk, sk in keys if pk.startswith("ORDER#")]
    orders = store.get_orders({pk.removeprefix("ORDER#") for pk, _ in order_keys})
    busy = sorted(order_id for order_id, order in orders.items() if order.status in BUSY)
    if busy:
        raise PersonBusy(f"order(s) {', '.join(busy)} naming this person are being fulfilled; erase after they end")
    claim = store.get_account_claim(normalise_email(email))
    _refuse_claim_in_flight(claim, at)

    participants = operators = 0
    for pk, sk in order_keys:
        order_id = pk.removeprefix("ORDER#")
        if sk == ORDER_SK:
            store.erase_operator(orders[order_id], at)
            operators += 1
        else:
            store.erase_participant(order_id, sk.removeprefix("PARTICIPANT#"), at)
            participants += 1
    claims = sum(1 for pk, _ in keys if pk.startswith(ERASED_CLAIM_PREFIX))
    if claim is not None:
        store.erase_account_claim(claim, at)
        claims += 1
    report = ErasureReport(
        erased=participants + operators + claims, participants=participants, operators=operators, account_claims=claims
    )
    logger.info("Personal data erased", extra={"email_hash": hashed, **report.model_dump()})
    return report


def expire_order(store: OrderStore, order_id: str, *, now: int | None = None) -> int:
    """The order's retention is over: erase its participants' and operator's personal data, and the claims of
    the accounts this order created. Returns how many records were erased now."""
    at = int(time.time()) if now is None else now
    order = store.get_order(order_id)
    if order is None:
        return 0
    if order.status in BUSY:
        # A change of the order is running (its retention item was due meanwhile): look again tomorrow.
        store.schedule_expiry(order_id, at + 86_400)
        return 0
    erased = 0
    emails = {order.operator.email} if order.operator.email else set()
    for participant in store.iter_participants(order_id):
        if participant.erased_at is None:
            emails.add(participant.email_norm)
            erased += store.erase_participant(order_id, participant.participant_key, at)
    erased += store.erase_operator(order, at)
    for claim in store.get_account_claims(email for email in emails if email).values():
        if claim.order_id == order_id and not _in_flight(claim, at):
            store.erase_account_claim(claim, at)
            erased += 1
    logger.info("Personal data of the order expired", extra={"order_id": order_id, "erased": erased})
    return erased


def expire_retention_item(keys: Mapping[str, Any]) -> int:
    """The stream's REMOVE of a retention item (`ORDER#<id>` / `RETENTION`): expire that order's data."""
    pk, sk = str(keys.get("PK", "")), str(keys.get("SK", ""))
    if sk != RETENTION_SK or not pk.startswith("ORDER#"):
        return 0  # not a retention item: the stream's filter should not have let it through
    return expire_order(_store(), pk.removeprefix("ORDER#"))


_store = store_for_settings  # one store per container


def _in_flight(claim: AccountClaim, now: int) -> bool:
    return claim.state == "CREATING" and claim.claimed_at >= now - CLAIM_LEASE_SECONDS


def _refuse_claim_in_flight(claim: AccountClaim | None, now: int) -> None:
    if claim is not None and _in_flight(claim, now):
        raise PersonBusy(
            f"order {claim.order_id} is creating this person's Moodle account right now; erase after it ends",
            retry_after=CLAIM_LEASE_SECONDS,
        )
