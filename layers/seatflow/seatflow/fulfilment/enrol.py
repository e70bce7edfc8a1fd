"""EnrolParticipants: the participant rules. One Map item is a batch of participants; each one's account is
found, reused or created, the account enrolled, and an account created here attached to the operator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

from seatflow.accounts import AccountCreationInProgress, AccountResolution, resolve_account
from seatflow.models.order import AccountClaim, OrderItem, ParticipantItem
from seatflow.models.tasks import BatchDone, ParticipantBatchTask
from seatflow.moodle import Enrolment, MoodlePermanentError, MoodleTransientError, enrol_users
from seatflow.observability import logger, mask_email, metrics
from seatflow.store import OrderStore

from .delegation import attach_to_operator
from .errors import SessionNotPossible, count_moodle_error
from .people import person_of
from .services import Services, services

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
            person_of(participant),
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
        count_moodle_error(error)
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
