"""FinalizeSession: the order's group and its members, the customer-support course, and the final status; for a
cancelled order, the operator's grants taken back and the group deleted (seatflow.lifecycle.cancel)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from seatflow.lifecycle.cancel import finish_cancellation
from seatflow.lifecycle.events import FINISHED, order_event
from seatflow.lifecycle.ledger import GrantRequest, grant_in_course
from seatflow.models.lifecycle import Grant
from seatflow.models.order import OrderItem, ParticipantSummary
from seatflow.models.tasks import OrderDone, OrderTask
from seatflow.moodle import MoodlePermanentError, add_group_members, ensure_group, find_course_by_shortname
from seatflow.observability import logger, publish_metric_alone
from seatflow.privacy.retention import schedule_personal_data_expiry

from .delegation import user_context_warnings
from .enrol import work_of
from .errors import SessionNotPossible, count_moodle_error
from .services import Services, services

FinalStatus = Literal["COMPLETED", "PARTIAL", "FAILED", "CANCELLED"]
EVENTS = {**FINISHED, "CANCELLED": "Order Cancelled"}


def finalize_session(task: OrderTask) -> OrderDone:
    svc = services()
    order = svc.store.get_order(task.order_id)
    if order is None or (not order.session and order.cancellation is None):
        raise SessionNotPossible(f"order {task.order_id} has no prepared session")
    participants = svc.store.list_participant_summaries(order.order_id)
    pending = [p.participant_key for p in participants if work_of(p) or p.status == "PENDING"]
    if pending:
        svc.store.fail_pending_participants(order.order_id, pending, "not processed by the workflow")
        for participant in participants:
            if participant.participant_key in pending:
                participant.status = "FAILED"

    status: FinalStatus
    if order.cancellation is not None:
        final, group, failure = finish_cancellation(svc, order, participants)
        status, warnings = ("CANCELLED" if final == "CANCELLED" else "FAILED"), list(order.warnings)
    else:
        status, group, warnings = _finish_session(svc, order, participants)
        failure = None
    counts = _counts(participants, group)
    svc.store.finish_order(
        order.order_id, status=status, counts=counts, group=group, warnings=warnings or None, failure=failure
    )
    # Once per change, with its outcome: the OrdersNotCompleted alarm and the dashboard's outcomes read it.
    publish_metric_alone("OrdersFinished", MetricUnit.Count, [1], status=status)
    schedule_personal_data_expiry(svc.store, order.order_id, order.session)
    order_event(EVENTS[status], order, status=status, counts=counts, change=task.change)
    logger.info("session finalised", extra={"status": status, "counts": counts})
    return OrderDone(order_id=order.order_id, change=task.change, status=status, counts=counts)


def _finish_session(
    svc: Services, order: OrderItem, participants: list[ParticipantSummary]
) -> tuple[FinalStatus, dict[str, Any], list[str]]:
    session = order.session or {}
    warnings = list(order.warnings)
    operator = order.operator
    label = operator.institution or f"{operator.firstname} {operator.lastname}"
    group, _created = ensure_group(
        svc.moodle,
        int(session["course_id"]),
        idnumber=order.order_id,
        name=f"{order.order_id} – {label}"[:254],
        description=f"seatflow order {order.order_id} ({order.product.code})",
    )
    enrolled = [p for p in participants if p.status == "ENROLLED" and p.moodle_user_id]
    operator_member = [int(session["operator_user_id"])] if session.get("operator_enrolled", True) else []
    members = operator_member + [int(p.moodle_user_id or 0) for p in enrolled]
    refused = _add_members(svc, group.id, members)
    refusal = f"Moodle refused group membership for user ids {sorted(refused)}"
    if refused and refusal not in warnings:
        warnings.append(refusal)

    if any(p.account == "created" for p in participants):
        warnings.extend(w for w in user_context_warnings(session) if w not in warnings)
    support = order.product_params.customersupport
    if support:
        operator_new = session.get("operator_account") == "created"
        found = _enrol_operator_in_support(svc, order, support, int(session["operator_user_id"]), operator_new)
        warnings.extend(w for w in found if w not in warnings)

    active = [p for p in participants if p.status != "REMOVED"]
    enrolled_count = sum(1 for p in active if p.status == "ENROLLED")
    status: FinalStatus = (
        "COMPLETED" if enrolled_count == len(active) else "PARTIAL" if enrolled_count > 0 else "FAILED"
    )
    # Membership lives here, not on 1,000 participant items: every enrolled participant, but the refused.
    return (
        status,
        {"id": group.id, "idnumber": group.idnumber, "name": group.name, "refused_user_ids": sorted(refused)},
        warnings,
    )


def _counts(participants: list[ParticipantSummary], group: dict[str, Any] | None) -> dict[str, int]:
    active = [p for p in participants if p.status != "REMOVED"]
    statuses = Counter(p.status for p in participants)
    accounts = Counter(p.account for p in active if p.account)
    refused = set((group or {}).get("refused_user_ids") or [])
    return {
        "participants": len(active),
        "learners": sum(1 for p in active if p.role == "learner"),
        "tutors": sum(1 for p in active if p.role == "tutor"),
        "enrolled": statuses["ENROLLED"],
        "needs_review": statuses["NEEDS_REVIEW"],
        "failed": statuses["FAILED"],
        "removed": statuses["REMOVED"],
        "created": accounts["created"],
        "reused": accounts["reused"],
        "group_members": 0
        if group is None
        else sum(1 for p in active if p.status == "ENROLLED" and p.moodle_user_id not in refused),
    }


def _add_members(svc: Services, group_id: int, user_ids: list[int]) -> set[int]:
    """Adds members in batches; a refused batch is retried one by one to find who Moodle refuses."""
    refused: set[int] = set()
    size = svc.settings.group_batch_size
    for start in range(0, len(user_ids), size):
        batch = user_ids[start : start + size]
        try:
            add_group_members(svc.moodle, group_id, batch, batch_size=size)
        except MoodlePermanentError:
            for user_id in batch:
                try:
                    add_group_members(svc.moodle, group_id, [user_id])
                except MoodlePermanentError as error:
                    count_moodle_error(error)
                    refused.add(user_id)
    return refused


def _enrol_operator_in_support(
    svc: Services, order: OrderItem, shortname: str, operator_id: int, operator_new: bool
) -> list[str]:
    """The support course is a courtesy: a failure there is reported on the order, never fatal. The enrolment is a
    grant of this order, taken back if the order is cancelled (and only when no other order still grants it)."""
    course = find_course_by_shortname(svc.moodle, shortname)
    if course is None:
        return [f"customer-support course {shortname!r} does not exist in Moodle; the operator was not enrolled"]
    role_ids = [svc.roles.id_for("student")]
    if "customer" in svc.settings.role_ids:
        role_ids.append(svc.settings.role_ids["customer"])
    grant = Grant(order_id=order.order_id, holder="support", roles=role_ids)
    granted = grant_in_course(
        svc, course.id, [GrantRequest(user_id=operator_id, grant=grant, new_account=operator_new)]
    )
    for error in granted.refused.values():
        count_moodle_error(error)
        return [f"operator not enrolled in customer-support course {shortname!r}: {error.errorcode}: {error.message}"]
    return []
