"""PrepareSession: prove the course and roles, enrol the operator, and write the manifest of the participants with
work left (all of them for a new order; those a change touched for the others).

Every change but a cancellation prepares again: the operator's grant follows the session's dates, which an
amendment may move. The session's start stays the one first prepared unless the product names a `starttime`.
A cancellation prepares nothing in Moodle: its manifest lists the participants to withdraw.
"""

from __future__ import annotations

import time

from seatflow.accounts import resolve_account
from seatflow.config import ConfigurationError
from seatflow.diagnosis import MissingFunctions, missing_functions, site_info_or_missing_function
from seatflow.lifecycle.ledger import GrantRequest, grant_in_course
from seatflow.models.lifecycle import Grant
from seatflow.models.order import OrderItem
from seatflow.models.tasks import OrderTask, SessionPrepared
from seatflow.moodle import find_course_by_shortname
from seatflow.observability import logger, metrics
from seatflow.product import session_dates

from .batching import plan_batches, write_manifest
from .enrol import work_of
from .errors import OperatorAccountAmbiguous, SessionNotPossible
from .people import person_of
from .probes import probe_enrolment, role_assignable_in_user_context
from .services import Services, services


def prepare_session(task: OrderTask, *, now: int | None = None) -> SessionPrepared:
    svc = services()
    order = svc.store.get_order(task.order_id)
    if order is None:
        raise SessionNotPossible(f"order {task.order_id} is not recorded")
    if order.cancellation is not None:
        return _write_manifest(svc, order, task.change)
    params = order.product_params
    moodle = svc.moodle

    # The token first: a function missing from its service would fail the order halfway, after the operator's
    # account and enrolment exist and with every participant left pending.
    try:
        missing = missing_functions(site_info_or_missing_function(moodle))
        if missing:
            raise MissingFunctions(missing)
    except MissingFunctions as exc:
        raise SessionNotPossible(str(exc)) from exc

    course = find_course_by_shortname(moodle, params.coursename)
    if course is None:
        raise SessionNotPossible(
            f"course {params.coursename!r} does not exist in Moodle (product {order.product.code})"
        )
    try:
        supervisor_role_id = svc.roles.id_for(params.supervisor)
        student_role_id = svc.roles.id_for("student")
    except ConfigurationError as exc:
        raise SessionNotPossible(str(exc)) from exc
    prepared_at = (order.session or {}).get("prepared_at") or now or int(time.time())
    timestart, timeend = session_dates(params, now=prepared_at, course_start=course.startdate)

    # Prove the course's manual enrolment and the supervisor role before any account exists.
    probe_enrolment(moodle, course.id, course.shortname, supervisor_role_id, params.supervisor)
    if supervisor_role_id != student_role_id:
        probe_enrolment(moodle, course.id, course.shortname, student_role_id, "student")

    operator_id, operator_username, operator_outcome = _operator_account(svc, order)
    if params.autoenrolsupervisor:  # autoenrolsupervisor=0: the operator stays out of the course and its group
        operator_grant = Grant(
            order_id=order.order_id, holder="operator", roles=[supervisor_role_id], timestart=timestart, timeend=timeend
        )
        granted = grant_in_course(
            svc,
            course.id,
            [GrantRequest(user_id=operator_id, grant=operator_grant, new_account=operator_outcome == "created")],
        )
        if granted.refused:
            raise granted.refused[0]
    user_context_roles = {
        "supervisor": role_assignable_in_user_context(moodle, supervisor_role_id, operator_id),
        "student": role_assignable_in_user_context(moodle, student_role_id, operator_id),
    }

    svc.store.save_session(
        order.order_id,
        {
            "course_id": course.id,
            "course_shortname": course.shortname,
            "course_fullname": course.fullname,
            "timestart": timestart,
            "timeend": timeend,
            "supervisor_role": params.supervisor,
            "supervisor_role_id": supervisor_role_id,
            "student_role_id": student_role_id,
            "operator_user_id": operator_id,
            "operator_username": operator_username,
            "operator_account": operator_outcome,
            "operator_enrolled": params.autoenrolsupervisor,
            "user_context_roles": user_context_roles,
            "prepared_at": prepared_at,
        },
    )
    prepared = _write_manifest(svc, order, task.change)
    logger.info("session prepared", extra={"course_id": course.id, "participants": prepared.participants})
    return prepared


def _operator_account(svc: Services, order: OrderItem) -> tuple[int, str, str]:
    """(Moodle user id, username, created or reused): found or created by email when the order is first prepared;
    later changes keep that account (an amendment never changes the operator, whose data may be erased since)."""
    session = order.session or {}
    if session.get("operator_user_id"):
        return int(session["operator_user_id"]), session.get("operator_username", ""), session["operator_account"]
    operator = resolve_account(svc.moodle, svc.store, person_of(order), order_id=order.order_id, claimant="operator")
    if not operator.usable or operator.user is None:
        raise OperatorAccountAmbiguous(f"operator: {operator.reason}")
    metrics.add_metric(name=f"Accounts{operator.outcome.capitalize()}", unit="Count", value=1)
    return operator.user.id, operator.user.username, operator.outcome


def _write_manifest(svc: Services, order: OrderItem, change: int | None) -> SessionPrepared:
    """The batches of the participants with work left, for the Map (an empty list when there is none)."""
    keys = [p.participant_key for p in svc.store.list_participant_summaries(order.order_id) if work_of(p)]
    batches = plan_batches(keys, svc.settings.map_max_concurrency, svc.settings.max_participants_per_batch)
    manifest_key = (
        f"manifests/{order.order_id}/{f'change-{change}' if change else 'rerun'}.json"  # '/' is in no order id
    )
    write_manifest(svc.settings.manifest_bucket, manifest_key, batches)
    return SessionPrepared(order_id=order.order_id, change=change, manifest_key=manifest_key, participants=len(keys))
