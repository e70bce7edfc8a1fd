"""What a change leaves to do to each participant, decided on the stored participants alone (no Moodle, no AWS).

Each plan returns the participant items to write back and a count of what it did. A participant's `todo` says the
work left (seatflow.models.lifecycle.ParticipantWork); a PENDING participant is provisioned. Plans are safe to apply
twice: applied to their own result they write nothing new, so StartChange may be re-run after a partial write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from seatflow.models.order import ParticipantItem, Person, Role, participant_key
from seatflow.models.personal import email_hash

from .requests import AmendedOrderBody

# The outcome a participant loses when it is provisioned again from scratch (re-added after its removal).
_OUTCOME_RESET: dict[str, Any] = {
    "account": None,
    "moodle_user_id": None,
    "username": None,
    "role_shortname": None,
    "role_id": None,
    "attached_to_operator": None,
    "reason": None,
    "candidates": None,
    "warnings": [],
    "todo": None,
}
Plan = tuple[list[ParticipantItem], dict[str, int]]


def plan_amendment(
    order_id: str, stored: Sequence[ParticipantItem], body: AmendedOrderBody, *, dates_changed: bool
) -> Plan:
    """Participants keyed by normalised email, through its hash (which outlives an erasure): added (a new key after
    the role's last one, or a removed participant back), removed (withdraw), role changed (switch), dates changed
    (redate every enrolled one). A participant whose personal data was erased is kept as it is (decision 0012)."""
    by_email = {p.email_hash or email_hash(p.email_norm): p for p in stored}
    next_number = _next_numbers(stored)
    writes: list[ParticipantItem] = []
    counts: Counter[str] = Counter()
    wanted: set[str] = set()
    for _, role, position, person in body.as_order().participants_with_keys():
        key_hash = email_hash(person.email)
        wanted.add(key_hash)
        old = by_email.get(key_hash)
        if old is not None and old.erased_at is not None:
            continue
        if old is None:
            key = participant_key(role, next_number[role])
            next_number[role] += 1
            writes.append(_new_participant(order_id, key, role, position, person))
            counts["added"] += 1
            continue
        new = old.model_copy(update={"role": role, "position": position, **_details(person)})
        if old.status == "REMOVED":
            new = new.model_copy(update={"status": "PENDING", **_OUTCOME_RESET})
            counts["added"] += 1
        elif old.todo == "withdraw":  # its removal has not run yet, and it is wanted again
            new = new.model_copy(update={"todo": None, "status": "ENROLLED" if old.moodle_user_id else "PENDING"})
        if new.status == "ENROLLED" and new.moodle_user_id is not None:
            if role != old.role or old.todo == "switch":
                new = new.model_copy(update={"todo": "switch"})
                counts["switched"] += role != old.role
            elif dates_changed and new.todo is None:
                new = new.model_copy(update={"todo": "redate"})
                counts["redated"] += 1
        if new != old:
            writes.append(new)
    for participant in stored:
        gone = (participant.email_hash or email_hash(participant.email_norm)) not in wanted
        if gone and participant.status != "REMOVED" and participant.todo != "withdraw":
            writes.append(participant.model_copy(update={"todo": "withdraw"}))
            counts["removed"] += 1
    return writes, dict(counts)


def plan_retry(stored: Sequence[ParticipantItem], *, cancelling: bool) -> Plan:
    """NEEDS_REVIEW and FAILED participants run again: their unfinished work resumes, or they are provisioned again.
    ENROLLED and REMOVED ones are never touched. An order being cancelled retries its cancellation instead."""
    if cancelling:
        return plan_cancellation(stored)
    writes = []
    for participant in stored:
        if participant.status not in ("NEEDS_REVIEW", "FAILED") or participant.erased_at is not None:
            continue
        if participant.todo is not None and participant.todo != "provision":
            writes.append(participant)  # counted; its todo resumes as it is
            continue
        writes.append(participant.model_copy(update={"status": "PENDING", "todo": None, "reason": None}))
    return writes, {"retried": len(writes)} if writes else {}


def plan_cancellation(stored: Sequence[ParticipantItem]) -> Plan:
    """Every participant not removed yet is withdrawn."""
    writes = [
        p.model_copy(update={"todo": "withdraw"}) for p in stored if p.status != "REMOVED" and p.todo != "withdraw"
    ]
    pending = sum(1 for p in stored if p.status != "REMOVED")
    return writes, {"to_remove": pending} if pending else {}


def _next_numbers(stored: Sequence[ParticipantItem]) -> dict[Role, int]:
    numbers: dict[Role, int] = {"learner": 1, "tutor": 1}
    for participant in stored:
        prefix, _, number = participant.participant_key.partition("-")
        if prefix in numbers and number.isdigit():
            numbers[prefix] = max(numbers[prefix], int(number) + 1)  # type: ignore[index]
    return numbers


def _details(person: Person) -> dict[str, Any]:
    return {
        "firstname": person.firstname,
        "lastname": person.lastname,
        "email": person.email,
        "email_norm": person.email_norm,
        "city": person.city,
        "institution": person.institution,
        "phone": person.phone,
    }


def _new_participant(order_id: str, key: str, role: Role, position: int, person: Person) -> ParticipantItem:
    return ParticipantItem(
        order_id=order_id, participant_key=key, role=role, position=position, status="PENDING", **_details(person)
    )
