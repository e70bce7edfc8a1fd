"""The work a change leaves to participants already provisioned, done a batch at a time by EnrolParticipantBatch
beside the provisioning: switch a role, give the enrolment the session's new dates, or withdraw the participant.

Each goes through the enrolment ledger (seatflow.lifecycle.ledger), so only what this order granted moves. A
participant whose work Moodle refuses ends FAILED with the reason and keeps its `todo`: a retry resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from seatflow.models.lifecycle import Grant, grant_key
from seatflow.models.order import OrderItem, ParticipantItem, Role
from seatflow.moodle import (
    MoodlePermanentError,
    UserContextAssignment,
    find_accounts_by_emails,
    isolate_refusals,
    unassign_user_context_roles,
)
from seatflow.observability import logger

from .ledger import GrantRequest, Withdrawal, grant_in_course, withdraw_from_course

if TYPE_CHECKING:
    from seatflow.fulfilment.services import Services

Outcomes = tuple[list[ParticipantItem], dict[str, str]]
ALREADY_ENROLLED = (
    "was already enrolled in this course before seatflow: that enrolment and its dates are kept as they are "
    "(seatflow only added its role, and will only take that role back)"
)


def role_fields(session: dict[str, Any], role: Role) -> dict[str, Any]:
    if role == "learner":
        return {"role_shortname": "student", "role_id": session["student_role_id"]}
    return {"role_shortname": session["supervisor_role"], "role_id": session["supervisor_role_id"]}


def participant_grant(order: OrderItem, participant: ParticipantItem) -> Grant:
    """What this order grants the participant in the course: its role, for the session's dates."""
    session = order.session or {}
    return Grant(
        order_id=order.order_id,
        holder=participant.participant_key,
        roles=[role_fields(session, participant.role)["role_id"]],
        timestart=session.get("timestart", 0),
        timeend=session.get("timeend", 0),
    )


def regrant(svc: Services, order: OrderItem, participants: Sequence[ParticipantItem]) -> Outcomes:
    """Role switches and new dates: the grant is written again and the enrolment follows it; a switch takes the
    other participant role away unless another grant (or the enrolment someone else made) needs it."""
    session = order.session or {}
    role_ids = {session["student_role_id"], session["supervisor_role_id"]}
    requests = []
    for p in participants:
        grant = participant_grant(order, p)
        drop = tuple(sorted(role_ids - set(grant.roles))) if p.todo == "switch" else ()
        requests.append(GrantRequest(user_id=int(p.moodle_user_id or 0), grant=grant, drop_roles=drop))
    granted = grant_in_course(svc, int(session["course_id"]), requests)
    outcomes, codes = [], {}
    for index, p in enumerate(participants):
        if index in granted.refused:
            error = granted.refused[index]
            codes[p.participant_key] = f"{p.todo}_refused:{error.errorcode or error.exception or 'unknown'}"
            outcomes.append(_failed(p, f"the {p.todo} was refused by Moodle: {_refusal(error)}"))
            continue
        warnings = [ALREADY_ENROLLED] if p.moodle_user_id in granted.external else []
        outcomes.append(
            p.model_copy(
                update={
                    **role_fields(session, p.role),
                    "status": "ENROLLED",
                    "todo": None,
                    "reason": None,
                    "warnings": warnings,
                }
            )
        )
    return outcomes, codes


def withdraw(svc: Services, order: OrderItem, participants: Sequence[ParticipantItem]) -> Outcomes:
    """Removed participants: out of the order's group, unenrolled where this order's grant was the last one, and
    the cross roles this order gave (delegated administration) taken back. Accounts are never touched."""
    session = order.session or {}
    if not session:  # never prepared: nothing was granted
        return [_removed(p) for p in participants], {}
    users = _granted_users(svc, participants)
    group_id = (order.group or {}).get("id")
    withdrawals = [
        (index, Withdrawal(user_id=user_id, key=grant_key(order.order_id, p.participant_key), group_id=group_id))
        for index, p in enumerate(participants)
        for user_id in users[index]
    ]
    refused_items = withdraw_from_course(svc, int(session["course_id"]), [w for _, w in withdrawals])
    refused: dict[int, MoodlePermanentError] = {withdrawals[i][0]: e for i, e in refused_items.items()}
    refused |= _take_back_cross_roles(svc, session, participants, refused)
    outcomes, codes = [], {}
    for index, p in enumerate(participants):
        if index in refused:
            codes[p.participant_key] = f"withdraw_refused:{refused[index].errorcode or 'unknown'}"
            outcomes.append(_failed(p, f"could not be removed: {_refusal(refused[index])}"))
        else:
            outcomes.append(_removed(p))
    return outcomes, codes


def _granted_users(svc: Services, participants: Sequence[ParticipantItem]) -> list[list[int]]:
    """The Moodle users this order may have granted each participant: its account, or, for one that failed before
    its account was saved, every account of its email (the ledger says which of them this order granted)."""
    unknown = [p.email for p in participants if p.moodle_user_id is None and p.status == "FAILED"]
    found = find_accounts_by_emails(svc.moodle, unknown) if unknown else {}
    users: list[list[int]] = []
    for p in participants:
        if p.moodle_user_id is not None:
            users.append([p.moodle_user_id])
        else:
            users.append([u.id for u in found.get(p.email.strip().casefold(), [])])
    return users


def _take_back_cross_roles(
    svc: Services, session: dict[str, Any], participants: Sequence[ParticipantItem], refused: dict[int, Any]
) -> dict[int, MoodlePermanentError]:
    """The operator's supervisor role over accounts this order created, and theirs in the operator's context."""
    allowed = session.get("user_context_roles", {})
    operator_id = int(session["operator_user_id"])
    items: list[tuple[int, UserContextAssignment]] = []
    for index, p in enumerate(participants):
        if index in refused or p.account != "created" or p.moodle_user_id is None:
            continue
        if allowed.get("supervisor"):
            items.append(
                (
                    index,
                    UserContextAssignment(
                        role_id=session["supervisor_role_id"], user_id=operator_id, context_user_id=p.moodle_user_id
                    ),
                )
            )
        if allowed.get("student"):
            items.append(
                (
                    index,
                    UserContextAssignment(
                        role_id=session["student_role_id"], user_id=p.moodle_user_id, context_user_id=operator_id
                    ),
                )
            )
    errors = isolate_refusals([a for _, a in items], lambda chunk: unassign_user_context_roles(svc.moodle, chunk))
    return {items[i][0]: error for i, error in errors.items()}


def _refusal(error: MoodlePermanentError) -> str:
    return f"{error.wsfunction}: {error.errorcode or error.exception}: {error.message}"


def _failed(participant: ParticipantItem, reason: str) -> ParticipantItem:
    logger.warning(
        "participant work failed", extra={"participant_key": participant.participant_key, "todo": participant.todo}
    )
    return participant.model_copy(update={"status": "FAILED", "reason": reason})


def _removed(participant: ParticipantItem) -> ParticipantItem:
    return participant.model_copy(
        update={"status": "REMOVED", "todo": None, "reason": None, "attached_to_operator": False, "warnings": []}
    )
