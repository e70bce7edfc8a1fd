"""EnrolParticipants: the participant rules, a batch at a time. One Map item is a batch of participants: their
accounts are resolved together (found and reused, or created once), granted the course through the enrolment
ledger and enrolled in one call, the accounts created here attached to the operator in one call, and every outcome
written back in one batched write. Participants a change left other work to (a role switch, new dates, a removal)
get it in the same batch (seatflow.lifecycle.work).

Moodle refuses an enrolment or role-assignment call as a whole for one bad item: the call is split until the
bad item stands alone, so it fails with its own reason and nothing else fails with it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from seatflow.accounts import AccountRequest, AccountResolution, resolve_accounts
from seatflow.lifecycle.events import order_events
from seatflow.lifecycle.ledger import GrantRequest, grant_in_course
from seatflow.lifecycle.work import ALREADY_ENROLLED, participant_grant, regrant, role_fields, withdraw
from seatflow.models.order import OrderItem, ParticipantItem, ParticipantSummary
from seatflow.models.tasks import BatchDone, ParticipantBatchTask, ParticipantState
from seatflow.moodle import MoodlePermanentError
from seatflow.observability import logger, mask_email, metrics

from .delegation import attach_to_operator
from .errors import SessionNotPossible, count_moodle_error
from .people import person_of
from .services import Services, services


def work_of(participant: ParticipantItem | ParticipantSummary) -> str | None:
    """What is left to do to a participant: provision one PENDING, or the work a change left it. Nothing for the
    others: a FAILED one waits for a retry (which makes it PENDING again), like one in NEEDS_REVIEW. An erased
    participant has no email left to resolve: it is never provisioned, whatever it ended as."""
    work: str | None
    if participant.todo in ("switch", "redate") and participant.moodle_user_id is None:
        work = "provision"  # nothing to switch or re-date yet
    elif participant.todo is not None:
        return participant.todo
    else:
        work = "provision" if participant.status == "PENDING" else None
    return None if participant.erased_at is not None else work


def enrol_participants(task: ParticipantBatchTask) -> BatchDone:
    """Does the batch's work left: provisions pending participants, switches, re-dates or withdraws those a change
    told to; a re-run leaves those ENROLLED, NEEDS_REVIEW or REMOVED with no work left alone.

    A participant that must wait (an email another order is creating) does not hold the others back: the batch
    saves the others' outcomes, then raises so the state's Retry runs it again. A transient Moodle error stops
    the batch before any outcome is written; the re-run finds the accounts it created through their claims.
    """
    svc = services()
    order, participants = svc.store.get_order_and_participants(task.order_id, task.participant_keys)
    if order is None or not order.session:
        raise SessionNotPossible(f"order {task.order_id} has no prepared session")
    work = {p.participant_key: work_of(p) for p in participants}
    provisioned, codes, waiting = enrol_batch(
        svc, order, [p for p in participants if work[p.participant_key] == "provision"]
    )
    changed, change_codes = _change_work(svc, order, participants, work)
    outcomes = provisioned + changed
    codes |= change_codes
    svc.store.save_participant_outcomes(outcomes)
    order_events("Participant Needs Review", order, _needing_review(provisioned, codes))

    statuses = Counter(p.status for p in outcomes)
    accounts = Counter(p.account for p in provisioned if p.status == "ENROLLED" and p.account)
    # One value per batch, not per participant: a batch stays far below EMF's 100 values per metric.
    for account, count in accounts.items():
        metrics.add_metric(name=f"Accounts{account.capitalize()}", unit="Count", value=count)
    if accounts:
        metrics.add_metric(name="ParticipantsEnrolled", unit="Count", value=sum(accounts.values()))
    if statuses["FAILED"]:
        metrics.add_metric(name="ParticipantsFailed", unit="Count", value=statuses["FAILED"])
    if waiting:
        raise next(iter(waiting.values()))
    done = Counter(p.status for p in participants if work[p.participant_key] is None) + statuses
    by_key = {p.participant_key: p for p in participants} | {p.participant_key: p for p in outcomes}
    return BatchDone(
        order_id=order.order_id,
        enrolled=done["ENROLLED"],
        needs_review=done["NEEDS_REVIEW"],
        failed=done["FAILED"],
        participants=[
            ParticipantState(key=key, status=p.status, reason_code=codes.get(key)) for key, p in by_key.items()
        ],
    )


def _change_work(
    svc: Services, order: OrderItem, participants: list[ParticipantItem], work: dict[str, str | None]
) -> tuple[list[ParticipantItem], dict[str, str]]:
    """Withdrawals, then role switches and new dates (seatflow.lifecycle.work)."""
    outcomes: list[ParticipantItem] = []
    codes: dict[str, str] = {}
    withdrawn = [p for p in participants if work[p.participant_key] == "withdraw"]
    regranted = [p for p in participants if work[p.participant_key] in ("switch", "redate")]
    for do, chosen in ((withdraw, withdrawn), (regrant, regranted)):
        if chosen:
            more, more_codes = do(svc, order, chosen)
            outcomes += more
            codes |= more_codes
    return outcomes, codes


def enrol_batch(
    svc: Services, order: OrderItem, participants: list[ParticipantItem]
) -> tuple[list[ParticipantItem], dict[str, str], dict[str, Exception]]:
    """The outcome of each participant that got one, the reason code of those not enrolled, and those that must
    wait (both by participant key)."""
    if not participants:
        return [], {}, {}
    session = order.session or {}
    batch = resolve_accounts(
        svc.moodle,
        svc.store,
        [AccountRequest(p.participant_key, person_of(p)) for p in participants],
        order_id=order.order_id,
    )
    outcomes: dict[str, ParticipantItem] = {}
    codes: dict[str, str] = {key: "waiting_for_another_order" for key in batch.waiting}
    ready: list[tuple[ParticipantItem, AccountResolution]] = []
    for participant in participants:
        resolution = batch.resolved.get(participant.participant_key)
        if resolution is None:
            continue  # waiting for another order's create
        if resolution.usable:
            ready.append((participant, resolution))
            continue
        codes[participant.participant_key] = resolution.reason_code or resolution.outcome
        if resolution.outcome == "refused":
            outcomes[participant.participant_key] = _failed(participant, session, resolution.reason or "")
        else:
            outcomes[participant.participant_key] = _needs_review(participant, resolution)

    requests = [
        GrantRequest(
            user_id=resolution.user.id if resolution.user else 0,
            grant=participant_grant(order, participant),
            new_account=resolution.outcome == "created",
        )
        for participant, resolution in ready
    ]
    granted = grant_in_course(svc, int(session["course_id"]), requests)
    refused = granted.refused
    for index, error in refused.items():
        participant = ready[index][0]
        count_moodle_error(error)
        codes[participant.participant_key] = f"enrol_refused:{error.errorcode or error.exception or 'unknown'}"
        outcomes[participant.participant_key] = _failed(participant, session, _refusal(error))
    enrolled = [pair for index, pair in enumerate(ready) if index not in refused]

    created_ids = [r.user.id for _, r in enrolled if r.outcome == "created" and r.user is not None]
    attached = attach_to_operator(svc, session, created_ids) if created_ids else set()
    for participant, resolution in enrolled:
        assert resolution.user is not None
        outcomes[participant.participant_key] = participant.model_copy(
            update={
                **role_fields(session, participant.role),
                "status": "ENROLLED",
                "account": resolution.outcome,
                "moodle_user_id": resolution.user.id,
                "username": resolution.user.username,
                "attached_to_operator": resolution.user.id in attached,
                "reason": None,
                "candidates": None,
                "todo": None,
                "warnings": [ALREADY_ENROLLED] if resolution.user.id in granted.external else [],
            }
        )
    ordered = [outcomes[p.participant_key] for p in participants if p.participant_key in outcomes]
    return ordered, codes, dict(batch.waiting)


def _needing_review(outcomes: list[ParticipantItem], codes: dict[str, str]) -> list[dict[str, Any]]:
    """The detail of each participant this run left NEEDS_REVIEW (a re-run skips them: one event each)."""
    return [
        {
            "participant_key": p.participant_key,
            "participant_status": p.status,
            "role": p.role,
            "email": p.email,
            "reason_code": codes.get(p.participant_key),
            "reason": p.reason,
        }
        for p in outcomes
        if p.status == "NEEDS_REVIEW"
    ]


def _refusal(error: MoodlePermanentError) -> str:
    return f"Moodle refused {error.wsfunction}: {error.errorcode or error.exception}: {error.message}"


def _failed(participant: ParticipantItem, session: dict[str, Any], reason: str) -> ParticipantItem:
    logger.warning("participant failed", extra={"participant_key": participant.participant_key})
    return participant.model_copy(
        update={
            **role_fields(session, participant.role),
            "status": "FAILED",
            "account": None,
            "moodle_user_id": None,
            "username": None,
            "attached_to_operator": False,
            "reason": reason,
        }
    )


def _needs_review(participant: ParticipantItem, resolution: AccountResolution) -> ParticipantItem:
    logger.warning(
        "participant needs review",
        extra={"participant_key": participant.participant_key, "reason": mask_email(resolution.reason or "")},
    )
    return participant.model_copy(
        update={
            "status": "NEEDS_REVIEW",
            "account": None,
            "moodle_user_id": None,
            "username": None,
            "role_shortname": None,
            "role_id": None,
            "attached_to_operator": False,
            "reason": resolution.reason,
            "candidates": resolution.candidates,
            "warnings": [],
        }
    )
