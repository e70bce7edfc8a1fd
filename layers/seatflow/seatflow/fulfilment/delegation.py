"""Delegated administration: the operator supervises the accounts this order created, and the order says
which of the two user-context roles Moodle would not let us assign."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seatflow.moodle import UserContextAssignment, assign_user_context_roles, isolate_refusals

from .services import Services


def attach_to_operator(svc: Services, session: dict[str, Any], user_ids: Sequence[int]) -> set[int]:
    """Delegated administration, for accounts created by this order only: the operator supervises each new
    user (supervisor role in the user's context) and each new user gets the student role in the operator's.
    One ``core_role_assign_roles`` call for the batch; returns the users the operator now supervises.

    PrepareSession probed which of the two roles Moodle allows at the User context level; only those are sent
    (Moodle assigns a batch in one transaction, so one refused role would refuse all). A refused assignment is
    isolated and leaves its user unattached; FinalizeSession reports a refused role once, on the order.
    """
    allowed = session.get("user_context_roles", {})
    operator_id = int(session["operator_user_id"])
    assignments: list[UserContextAssignment] = []
    for user_id in user_ids:
        if allowed.get("supervisor"):
            assignments.append(
                UserContextAssignment(
                    role_id=session["supervisor_role_id"], user_id=operator_id, context_user_id=user_id
                )
            )
        if allowed.get("student"):
            assignments.append(
                UserContextAssignment(role_id=session["student_role_id"], user_id=user_id, context_user_id=operator_id)
            )
    refused = isolate_refusals(assignments, lambda chunk: assign_user_context_roles(svc.moodle, chunk))
    unattached = {assignments[i].context_user_id for i in refused if assignments[i].user_id == operator_id}
    return {user_id for user_id in user_ids if allowed.get("supervisor") and user_id not in unattached}


def user_context_warnings(session: dict[str, Any]) -> list[str]:
    allowed = session.get("user_context_roles", {})
    what = {
        "supervisor": (session.get("supervisor_role"), "the operator cannot supervise the accounts created"),
        "student": ("student", "new accounts get no student role in the operator's user context"),
    }
    return [
        f"{text}: allow role {role} at the User context level "
        "(Site administration > Users > Permissions > Define roles)"
        for kind, (role, text) in what.items()
        if not allowed.get(kind, False)
    ]
