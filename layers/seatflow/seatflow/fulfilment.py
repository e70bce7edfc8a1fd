"""The workflow's rules: prepare the session, enrol one participant, finalise the session.

Every step is safe to re-run: Moodle is silent on repeated enrolments, role assignments and memberships,
groups are found by idnumber before being created, and account creation is guarded by a claim in DynamoDB.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal, NamedTuple

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from seatflow.accounts import AccountCreationInProgress, AccountResolution, resolve_account
from seatflow.config import ConfigurationError, Settings, get_settings
from seatflow.models.order import AccountClaim, OrderItem, ParticipantItem, Person
from seatflow.models.tasks import (
    BatchDone,
    OrderDone,
    OrderTask,
    ParticipantBatchTask,
    SessionPrepared,
)
from seatflow.moodle import (
    Enrolment,
    InvalidParameterError,
    MoodleClient,
    MoodleError,
    MoodlePermanentError,
    MoodleTransientError,
    RoleMap,
    UserContextAssignment,
    add_group_members,
    assign_user_context_roles,
    enrol_users,
    ensure_group,
    find_course_by_shortname,
)
from seatflow.observability import logger, mask_email, metrics
from seatflow.product import session_dates
from seatflow.store import OrderStore

# No Moodle account has this id: enrolling it checks the course, its manual instance and the role without
# changing anything (Moodle checks the role, then the instance, and only then the user, in one transaction).
PROBE_USER_ID = 2_147_483_647


class SessionNotPossible(Exception):
    """The product cannot be provisioned (course, enrolment method, role): the whole order fails."""


class OperatorAccountAmbiguous(Exception):
    """The operator's email matches several Moodle accounts (or a suspended one): the order fails."""


class Services:
    """The store, the Moodle client (created on first use: RecordOrderFailure never needs the token) and roles."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = OrderStore(settings.table_name)
        self.roles = RoleMap(settings.role_ids)

    @cached_property
    def moodle(self) -> MoodleClient:
        return MoodleClient.from_settings()


_services_lock = threading.Lock()
_services: Services | None = None


def services() -> Services:
    """One store and one Moodle client per container, rebuilt if the settings change (local runtime)."""
    global _services
    settings = get_settings()
    with _services_lock:
        if _services is None or _services.settings is not settings:
            _services = Services(settings)
        return _services


def _person(item: OrderItem | ParticipantItem) -> Person:
    source = item.operator if isinstance(item, OrderItem) else item
    return Person.model_construct(
        firstname=source.firstname,
        lastname=source.lastname,
        email=source.email,
        city=source.city,
        institution=source.institution,
        phone=source.phone,
    )


def _count_moodle_error(error: MoodleError) -> None:
    # A metric of its own: the errorcode dimension must not attach to the invocation's other metrics.
    with single_metric(name="MoodleErrors", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="errorcode", value=str(error.errorcode or error.exception or "unknown")[:64])


# -- PrepareSession -------------------------------------------------------------------------------------------
def prepare_session(task: OrderTask, *, now: int | None = None) -> SessionPrepared:
    svc = services()
    order = svc.store.get_order(task.order_id)
    if order is None:
        raise SessionNotPossible(f"order {task.order_id} is not recorded")
    params = order.product_params
    moodle = svc.moodle

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
    _probe_enrolment(moodle, course.id, course.shortname, supervisor_role_id, params.supervisor)
    if supervisor_role_id != student_role_id:
        _probe_enrolment(moodle, course.id, course.shortname, student_role_id, "student")

    operator = resolve_account(moodle, svc.store, _person(order), order_id=order.order_id, claimant="operator")
    if not operator.usable or operator.user is None:
        raise OperatorAccountAmbiguous(f"operator: {operator.reason}")
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
        "supervisor": _role_assignable_in_user_context(moodle, supervisor_role_id, operator.user.id),
        "student": _role_assignable_in_user_context(moodle, student_role_id, operator.user.id),
    }
    metrics.add_metric(name=f"Accounts{operator.outcome.capitalize()}", unit="Count", value=1)

    keys = svc.store.list_participant_keys(order.order_id)
    batches = plan_batches(keys, svc.settings.map_max_concurrency, svc.settings.max_participants_per_batch)
    manifest_key = f"manifests/{order.order_id}.json"
    _write_manifest(svc.settings.manifest_bucket, manifest_key, batches)
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
            "user_context_roles": user_context_roles,
        },
    )
    logger.info("session prepared", extra={"course_id": course.id, "participants": len(keys), "batches": len(batches)})
    return SessionPrepared(order_id=order.order_id, manifest_key=manifest_key, participants=len(keys))


# Each Map slot should get several batches, so that a slow batch holds the end back by a fraction of a slot's work.
BATCHES_PER_SLOT = 4


def plan_batches(keys: list[str], concurrency: int, max_per_batch: int) -> list[list[str]]:
    """Splits the participants into the Map's items. A batch is enrolled one participant after the other, so
    the Map's MaxConcurrency stays the number of participants in flight with Moodle. Batches are as large as
    keeps every slot busy (one Map item, one child execution and one Lambda invocation cost more than the
    participant's own work in Step Functions transitions and cold starts) and striped, so each holds a
    similar mix of new and existing accounts."""
    if not keys:
        return []
    size = max(1, min(max_per_batch, math.ceil(len(keys) / (concurrency * BATCHES_PER_SLOT))))
    count = math.ceil(len(keys) / size)
    return [keys[start::count] for start in range(count)]


def _probe_enrolment(moodle: MoodleClient, course_id: int, shortname: str, role_id: int, role: str) -> None:
    from seatflow.moodle import NoManualEnrolmentError, RecordNotFoundError, RoleAssignDeniedError

    try:
        enrol_users(moodle, [Enrolment(course_id=course_id, user_id=PROBE_USER_ID, role_id=role_id)])
    except RecordNotFoundError:
        return  # course, manual instance and role are fine; only the (nonexistent) user was refused
    except NoManualEnrolmentError as exc:
        raise SessionNotPossible(
            f"course {shortname!r} has no enabled manual enrolment method: add one "
            f"(Course > Participants > Enrolment methods) ({exc.errorcode})"
        ) from exc
    except RoleAssignDeniedError as exc:
        raise SessionNotPossible(
            f"role {role!r} (id {role_id}) cannot be assigned in course {shortname!r} by the web-service user: "
            f"allow it at the Course context level and in 'Allow role assignments' ({exc.errorcode})"
        ) from exc
    raise SessionNotPossible(f"Moodle accepted an enrolment of user {PROBE_USER_ID} in course {shortname!r}")


def _write_manifest(bucket: str, key: str, batches: list[list[str]]) -> None:
    import boto3

    boto3.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(batches).encode(), ContentType="application/json"
    )


# -- EnrolParticipants (one Map item: a batch of participants) ------------------------------------------------
RETRYABLE = (MoodleTransientError, AccountCreationInProgress)
DONE = ("ENROLLED", "NEEDS_REVIEW")


def enrol_participants(task: ParticipantBatchTask) -> BatchDone:
    """Enrols the batch's participants one after the other, then raises the first error met, if any, so the
    state's Retry runs the batch again (participants already done are skipped) and its Catch marks FAILED
    those still pending.

    A participant that fails on its own (an email another order is creating, a bug) does not hold the others
    back. A Moodle that stays unavailable after the client's own retries stops the batch: the state's backoff
    is the better place to wait for it.
    """
    svc = services()
    order, participants = svc.store.get_order_and_participants(task.order_id, task.participant_keys)
    if order is None or not order.session:
        raise SessionNotPossible(f"order {task.order_id} has no prepared session")
    claims = svc.store.get_account_claims(p.email_norm for p in participants if p.status not in DONE)
    statuses: Counter[str] = Counter()
    accounts: Counter[str] = Counter()
    errors: list[Exception] = []
    for participant in participants:
        logger.append_keys(participant_key=participant.participant_key)
        try:
            result = enrol_participant(svc, order, participant, claims)
        except Exception as error:  # noqa: BLE001 - raised again once the batch stops
            errors.append(error)
            logger.warning("participant left pending", extra={"error": type(error).__name__})
            if isinstance(error, MoodleTransientError):
                break
        else:
            statuses[result.status] += 1
            if result.account:
                accounts[result.account] += 1
    logger.remove_keys(["participant_key"])
    # One value per batch, not per participant: a batch stays far below EMF's 100 values per metric.
    for outcome, count in accounts.items():
        metrics.add_metric(name=f"Accounts{outcome.capitalize()}", unit="Count", value=count)
    if accounts:
        metrics.add_metric(name="ParticipantsEnrolled", unit="Count", value=sum(accounts.values()))
    if errors:
        raise next((e for e in errors if isinstance(e, RETRYABLE)), errors[0])
    return BatchDone(
        order_id=order.order_id,
        enrolled=statuses["ENROLLED"],
        needs_review=statuses["NEEDS_REVIEW"],
        failed=statuses["FAILED"],
    )


class ParticipantResult(NamedTuple):
    status: str
    account: str | None = None  # "created" or "reused" when enrolled by this call


def enrol_participant(
    svc: Services,
    order: OrderItem,
    participant: ParticipantItem,
    known_claims: Mapping[str, AccountClaim] | None = None,
) -> ParticipantResult:
    """One participant: find or create the account, enrol it, attach an account created here to the operator.
    A re-run leaves a participant already ENROLLED or NEEDS_REVIEW alone."""
    if participant.status in DONE:
        return ParticipantResult(participant.status)
    session = order.session or {}
    role_shortname = "student" if participant.role == "learner" else session["supervisor_role"]
    role_id = session["student_role_id"] if participant.role == "learner" else session["supervisor_role_id"]

    try:
        resolution = resolve_account(
            svc.moodle,
            svc.store,
            _person(participant),
            order_id=order.order_id,
            claimant=participant.participant_key,
            known_claims=known_claims,
        )
        if not resolution.usable or resolution.user is None:
            return ParticipantResult(_needs_review(svc.store, participant, resolution))
        user = resolution.user
        enrol_users(
            svc.moodle,
            [
                Enrolment(
                    course_id=session["course_id"],
                    user_id=user.id,
                    role_id=role_id,
                    timestart=session["timestart"],
                    timeend=session["timeend"],
                )
            ],
        )
        attached = resolution.outcome == "created" and attach_to_operator(svc, session, user.id)
    except MoodlePermanentError as error:
        _count_moodle_error(error)
        metrics.add_metric(name="ParticipantsFailed", unit="Count", value=1)
        _mark_failed(
            svc.store,
            participant,
            f"Moodle refused {error.wsfunction}: {error.errorcode or error.exception}: {error.message}",
            role_shortname=role_shortname,
            role_id=role_id,
        )
        logger.warning("participant failed", extra={"errorcode": error.errorcode})
        return ParticipantResult("FAILED")

    svc.store.save_participant_outcome(
        participant,
        status="ENROLLED",
        account=resolution.outcome,  # type: ignore[arg-type]
        moodle_user_id=user.id,
        username=user.username,
        role_shortname=role_shortname,
        role_id=role_id,
        attached_to_operator=attached,
    )
    return ParticipantResult("ENROLLED", resolution.outcome)


def attach_to_operator(svc: Services, session: dict[str, Any], user_id: int) -> bool:
    """Delegated administration, for accounts created by this order only: the operator supervises the new
    user (supervisor role in the user's context) and the new user gets the student role in the operator's.

    PrepareSession probed which of the two roles Moodle allows at the User context level; only those are sent
    (Moodle assigns a batch in one transaction, so one refused role would refuse both). FinalizeSession
    reports a refused role once, on the order.
    """
    allowed = session.get("user_context_roles", {})
    operator_id = int(session["operator_user_id"])
    assignments = []
    if allowed.get("supervisor"):
        assignments.append(
            UserContextAssignment(role_id=session["supervisor_role_id"], user_id=operator_id, context_user_id=user_id)
        )
    if allowed.get("student"):
        assignments.append(
            UserContextAssignment(role_id=session["student_role_id"], user_id=user_id, context_user_id=operator_id)
        )
    if assignments:
        assign_user_context_roles(svc.moodle, assignments)
    return bool(allowed.get("supervisor"))


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


def _role_assignable_in_user_context(moodle: MoodleClient, role_id: int, context_user_id: int) -> bool:
    """Moodle checks that the role is assignable in the context before it looks at the user: assigning it to
    a nonexistent user answers `codingerror` when the role is allowed and `invalidparameter` when it is not."""
    try:
        assign_user_context_roles(
            moodle,
            [UserContextAssignment(role_id=role_id, user_id=PROBE_USER_ID, context_user_id=context_user_id)],
        )
    except InvalidParameterError:
        return False
    except MoodlePermanentError as error:
        if error.errorcode == "codingerror":
            return True
        raise
    return True


def _mark_failed(
    store: OrderStore,
    participant: ParticipantItem,
    reason: str,
    *,
    role_shortname: str | None = None,
    role_id: int | None = None,
) -> None:
    store.save_participant_outcome(
        participant,
        status="FAILED",
        account=None,
        moodle_user_id=None,
        username=None,
        role_shortname=role_shortname,
        role_id=role_id,
        attached_to_operator=False,
        reason=reason,
    )


def _needs_review(store: OrderStore, participant: ParticipantItem, resolution: AccountResolution) -> str:
    store.save_participant_outcome(
        participant,
        status="NEEDS_REVIEW",
        account=None,
        moodle_user_id=None,
        username=None,
        role_shortname=None,
        role_id=None,
        attached_to_operator=False,
        reason=resolution.reason,
        candidates=resolution.candidates,
    )
    logger.warning("participant needs review", extra={"reason": mask_email(resolution.reason or "")})
    return "NEEDS_REVIEW"


# -- FinalizeSession ------------------------------------------------------------------------------------------
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
    members = [int(session["operator_user_id"])] + [int(p.moodle_user_id or 0) for p in enrolled]
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
                    _count_moodle_error(error)
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
        _count_moodle_error(error)
        return [f"operator not enrolled in customer-support course {shortname!r}: {error.errorcode}: {error.message}"]
    return []
