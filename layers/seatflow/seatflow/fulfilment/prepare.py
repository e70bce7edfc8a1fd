"""PrepareSession: prove the course and roles, enrol the operator, and write the participants' batch manifest."""

from __future__ import annotations

import time

from seatflow.accounts import resolve_account
from seatflow.config import ConfigurationError
from seatflow.diagnosis import MissingFunctions, missing_functions, site_info_or_missing_function
from seatflow.models.tasks import OrderTask, SessionPrepared
from seatflow.moodle import Enrolment, enrol_users, find_course_by_shortname
from seatflow.observability import logger, metrics
from seatflow.product import session_dates

from .batching import plan_batches, write_manifest
from .errors import OperatorAccountAmbiguous, SessionNotPossible
from .people import person_of
from .probes import probe_enrolment, role_assignable_in_user_context
from .services import services


def prepare_session(task: OrderTask, *, now: int | None = None) -> SessionPrepared:
    svc = services()
    order = svc.store.get_order(task.order_id)
    if order is None:
        raise SessionNotPossible(f"order {task.order_id} is not recorded")
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
    timestart, timeend = session_dates(params, now=now or int(time.time()), course_start=course.startdate)

    # Prove the course's manual enrolment and the supervisor role before any account exists.
    probe_enrolment(moodle, course.id, course.shortname, supervisor_role_id, params.supervisor)
    if supervisor_role_id != student_role_id:
        probe_enrolment(moodle, course.id, course.shortname, student_role_id, "student")

    operator = resolve_account(moodle, svc.store, person_of(order), order_id=order.order_id, claimant="operator")
    if not operator.usable or operator.user is None:
        raise OperatorAccountAmbiguous(f"operator: {operator.reason}")
    if params.autoenrolsupervisor:  # autoenrolsupervisor=0: the operator stays out of the course and its group
        enrol_users(
            moodle,
            [
                Enrolment(
                    course_id=course.id,
                    user_id=operator.user.id,
                    role_id=supervisor_role_id,
                    timestart=timestart,
                    timeend=timeend,
                )
            ],
        )
    user_context_roles = {
        "supervisor": role_assignable_in_user_context(moodle, supervisor_role_id, operator.user.id),
        "student": role_assignable_in_user_context(moodle, student_role_id, operator.user.id),
    }
    metrics.add_metric(name=f"Accounts{operator.outcome.capitalize()}", unit="Count", value=1)

    keys = svc.store.list_participant_keys(order.order_id)
    batches = plan_batches(keys, svc.settings.map_max_concurrency, svc.settings.max_participants_per_batch)
    manifest_key = f"manifests/{order.order_id}.json"
    write_manifest(svc.settings.manifest_bucket, manifest_key, batches)
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
            "operator_user_id": operator.user.id,
            "operator_username": operator.user.username,
            "operator_account": operator.outcome,
            "operator_enrolled": params.autoenrolsupervisor,
            "user_context_roles": user_context_roles,
        },
    )
    logger.info("session prepared", extra={"course_id": course.id, "participants": len(keys), "batches": len(batches)})
    return SessionPrepared(order_id=order.order_id, manifest_key=manifest_key, participants=len(keys))
