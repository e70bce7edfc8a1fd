"""FinalizeSession: the order's group and its members, the customer-support course, and the final status."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit

from seatflow.lifecycle.events import FINISHED, order_event
from seatflow.models.tasks import OrderDone, OrderTask
from seatflow.moodle import (
    Enrolment,
    MoodlePermanentError,
    add_group_members,
    enrol_users,
    ensure_group,
    find_course_by_shortname,
)
from seatflow.observability import logger, publish_metric_alone
from seatflow.privacy.retention import schedule_personal_data_expiry

from .delegation import user_context_warnings
from .errors import SessionNotPossible, count_moodle_error
from .services import Services, services


def finalize_session(task: OrderTask) -> OrderDone:
    svc = services()
    order = svc.store.get_order(task.order_id)
    if order is None or not order.session:
        raise SessionNotPossible(f"order {task.order_id} has no prepared session")
    session = order.session
    participants = svc.store.list_participant_summaries(order.order_id)
    warnings = list(order.warnings)

    pending = [p.participant_key for p in participants if p.status == "PENDING"]
    if pending:
        svc.store.fail_pending_participants(order.order_id, pending, "not processed by the workflow")
        for participant in participants:
            if participant.status == "PENDING":
                participant.status = "FAILED"

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
    joined = [p.participant_key for p in enrolled if p.moodle_user_id not in refused]
    if refused:
        warnings.append(f"Moodle refused group membership for user ids {sorted(refused)}")

    if any(p.account == "created" for p in participants):
        warnings.extend(w for w in user_context_warnings(session) if w not in warnings)
    support = order.product_params.customersupport
    if support:
        warnings.extend(_enrol_operator_in_support(svc, support, int(session["operator_user_id"])))

    statuses = Counter(p.status for p in participants)
    accounts = Counter(p.account for p in participants if p.account)
    counts = {
        "participants": len(participants),
        "learners": sum(1 for p in participants if p.role == "learner"),
        "tutors": sum(1 for p in participants if p.role == "tutor"),
        "enrolled": statuses["ENROLLED"],
        "needs_review": statuses["NEEDS_REVIEW"],
        "failed": statuses["FAILED"],
        "created": accounts["created"],
        "reused": accounts["reused"],
        "group_members": len(joined),
    }
    status: Literal["COMPLETED", "PARTIAL", "FAILED"]
    if statuses["ENROLLED"] == len(participants):
        status = "COMPLETED"
    elif statuses["ENROLLED"] > 0:
        status = "PARTIAL"
    else:
        status = "FAILED"
    svc.store.finish_order(
        order.order_id,
        status=status,
        counts=counts,
        # Membership lives here, not on 1,000 participant items: every enrolled participant, but the refused.
        group={"id": group.id, "idnumber": group.idnumber, "name": group.name, "refused_user_ids": sorted(refused)},
        warnings=warnings or None,
        failure=None,
    )
    # Once per order, with its outcome: the OrdersNotCompleted alarm and the dashboard's outcomes read it.
    publish_metric_alone("OrdersFinished", MetricUnit.Count, [1], status=status)
    schedule_personal_data_expiry(svc.store, order.order_id, session)
    order_event(FINISHED[status], order, status=status, counts=counts)
    logger.info("session finalised", extra={"status": status, "counts": counts})
    return OrderDone(order_id=order.order_id, status=status, counts=counts)


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


def _enrol_operator_in_support(svc: Services, shortname: str, operator_id: int) -> list[str]:
    """The support course is a courtesy: a failure there is reported on the order, never fatal."""
    course = find_course_by_shortname(svc.moodle, shortname)
    if course is None:
        return [f"customer-support course {shortname!r} does not exist in Moodle; the operator was not enrolled"]
    role_ids = [svc.roles.id_for("student")]
    if "customer" in svc.settings.role_ids:
        role_ids.append(svc.settings.role_ids["customer"])
    try:
        enrol_users(
            svc.moodle,
            [Enrolment(course_id=course.id, user_id=operator_id, role_id=role_id) for role_id in role_ids],
        )
    except MoodlePermanentError as error:
        count_moodle_error(error)
        return [f"operator not enrolled in customer-support course {shortname!r}: {error.errorcode}: {error.message}"]
    return []
