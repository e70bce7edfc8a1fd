"""The end of a cancellation, in FinalizeSession once the participants are withdrawn: the operator's own grants
(supervisor in the course, the support course) are taken back like any other, and the order's group is deleted.
Accounts are never deleted or suspended. A cancellation that could not withdraw everything ends FAILED, and a retry
resumes it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from seatflow.models.lifecycle import grant_key
from seatflow.models.order import OrderItem, ParticipantSummary
from seatflow.moodle import delete_groups, find_course_by_shortname

from .ledger import Withdrawal, withdraw_from_course

if TYPE_CHECKING:
    from seatflow.fulfilment.services import Services


def finish_cancellation(
    svc: Services, order: OrderItem, participants: Sequence[ParticipantSummary]
) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
    """The order's final status, its group (None once deleted) and the failure, if any."""
    session = order.session or {}
    problems = []
    left = [p.participant_key for p in participants if p.status != "REMOVED"]
    if left:
        problems.append(f"{len(left)} participant(s) could not be removed ({', '.join(left[:10])})")
    if session:
        operator_id = int(session["operator_user_id"])
        courses = [(int(session["course_id"]), "operator")]
        support = order.product_params.customersupport
        course = find_course_by_shortname(svc.moodle, support) if support else None
        if course is not None:
            courses.append((course.id, "support"))
        for course_id, holder in courses:
            refused = withdraw_from_course(
                svc, course_id, [Withdrawal(user_id=operator_id, key=grant_key(order.order_id, holder))]
            )
            problems += [f"the operator's {holder} enrolment: {error}" for error in refused.values()]
    group = order.group
    if group and not problems:
        delete_groups(svc.moodle, [int(group["id"])])
        group = None
    if problems:
        return "FAILED", group, {"error": "CancellationIncomplete", "reason": "; ".join(problems) + ": retry the order"}
    return "CANCELLED", None, None
