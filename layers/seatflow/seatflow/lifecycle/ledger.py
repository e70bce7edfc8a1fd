"""Undo only what this order granted: every enrolment seatflow makes or takes back in a course goes through the
enrolment ledger (seatflow.store.ledger), one call to Moodle per kind of work for a whole batch.

Granting: the ledger is opened the first time seatflow grants someone a course, saying whether they were already
enrolled there by someone else (one `core_enrol_get_enrolled_users` per batch, only when it holds reused accounts
without a ledger yet). The grant is written before Moodle is called, so an order withdrawing the same person at that
moment sees it and keeps the enrolment. An enrolment that was someone else's keeps its dates: seatflow only assigns
its role there. Otherwise the enrolment spans every grant standing (earliest start, latest end, 0 = none), so an
order never shortens another's access.

Withdrawing: Moodle is called first, the ledger written after (a retry finds the grant still there and does it
again). The last grant gone and the enrolment seatflow's own: unenrolled. Otherwise the enrolment stays: it takes
back the dates of the grants still standing and loses only the roles nobody else needs. A grant that arrived while
we unenrolled is seen in the ledger's answer, and its enrolment is put back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from seatflow.models.lifecycle import EnrolmentLedger, Grant
from seatflow.moodle import (
    CourseRole,
    Enrolment,
    MoodlePermanentError,
    assign_course_roles,
    enrol_users,
    enrolled_roles,
    isolate_refusals,
    remove_group_members,
    unassign_course_roles,
    unenrol_users,
)
from seatflow.observability import logger

if TYPE_CHECKING:
    from seatflow.fulfilment.services import Services

T = TypeVar("T")


@dataclass(frozen=True)
class GrantRequest:
    """Grant (or grant again, with new roles or dates) `grant` to Moodle user `user_id`."""

    user_id: int
    grant: Grant
    new_account: bool = False  # created by this order: it cannot have been enrolled before
    drop_roles: tuple[int, ...] = ()  # roles the holder had and no longer needs (a role switch)


@dataclass(frozen=True)
class Withdrawal:
    """Take back the grant `key` (`<order_id>/<holder>`) from Moodle user `user_id`, and them out of `group_id`."""

    user_id: int
    key: str
    group_id: int | None = None


@dataclass
class Granted:
    refused: dict[int, MoodlePermanentError] = field(default_factory=dict)  # by request index
    external: set[int] = field(default_factory=set)  # users whose enrolment was someone else's before seatflow


def span(grants: Iterable[Grant]) -> tuple[int, int]:
    """The enrolment that covers every grant: the earliest start, the latest end (0, no end, wins)."""
    grants = list(grants)
    if not grants:
        return 0, 0
    ends = [g.timeend for g in grants]
    return min(g.timestart for g in grants), 0 if 0 in ends else max(ends)


def roles_needed(ledger: EnrolmentLedger, grants: Iterable[Grant]) -> set[int]:
    """The roles someone still needs in the course: those of `grants`, and those held before seatflow came."""
    needed = {role for grant in grants for role in grant.roles}
    return needed | set(ledger.roles_before) if ledger.external else needed


def grant_in_course(svc: Services, course_id: int, requests: Sequence[GrantRequest]) -> Granted:
    """Records each grant, then enrols (or assigns the role where the enrolment is someone else's) in a few calls.
    A refused item stands alone with its reason; a refused first grant is taken off the ledger again."""
    if not requests:
        return Granted()
    before = _open_ledgers(svc, course_id, requests)
    after = svc.store.set_grants([((r.user_id, course_id), r.grant) for r in requests])
    enrolments: list[tuple[int, Enrolment]] = []
    course_roles: list[tuple[int, CourseRole]] = []
    drops: list[tuple[int, CourseRole]] = []
    result = Granted()
    for index, (request, ledger) in enumerate(zip(requests, after, strict=True)):
        if ledger.external:
            result.external.add(request.user_id)
            course_roles += [
                (index, CourseRole(role_id=r, user_id=request.user_id, course_id=course_id))
                for r in request.grant.roles
            ]
        else:
            start, end = span(ledger.grants.values())
            enrolments += [
                (
                    index,
                    Enrolment(course_id=course_id, user_id=request.user_id, role_id=r, timestart=start, timeend=end),
                )
                for r in request.grant.roles
            ]
        needed = roles_needed(ledger, ledger.grants.values())
        drops += [
            (index, CourseRole(role_id=r, user_id=request.user_id, course_id=course_id))
            for r in request.drop_roles
            if r not in needed
        ]
    result.refused = _send(svc, enrolments, enrol_users)
    result.refused |= _send(svc, [p for p in course_roles if p[0] not in result.refused], assign_course_roles)
    result.refused |= _send(svc, [p for p in drops if p[0] not in result.refused], unassign_course_roles)
    first = [
        ((r.user_id, course_id), r.grant.key)
        for index, r in enumerate(requests)
        if index in result.refused and r.grant.key not in before[(r.user_id, course_id)].grants
    ]
    if first:
        svc.store.remove_grants(first)  # nothing was granted: the ledger must not say it was
    return result


def withdraw_from_course(
    svc: Services, course_id: int, withdrawals: Sequence[Withdrawal]
) -> dict[int, MoodlePermanentError]:
    """Takes back each grant: out of the order's group, then unenrolled, or the enrolment re-dated to the grants
    still standing and stripped of the roles nobody needs. The refused ones (by index) keep their grant."""
    ledgers = svc.store.get_ledgers([(w.user_id, course_id) for w in withdrawals])
    ungroup: list[tuple[int, tuple[int, int]]] = []
    unenrol: list[tuple[int, tuple[int, int]]] = []
    unassign: list[tuple[int, CourseRole]] = []
    redate: list[tuple[int, Enrolment]] = []
    held: list[int] = []
    for index, w in enumerate(withdrawals):
        ledger = ledgers.get((w.user_id, course_id))
        grant = ledger.grants.get(w.key) if ledger else None
        if ledger is None or grant is None:
            continue  # nothing of this order's there (never granted, or already taken back)
        held.append(index)
        remaining = [g for key, g in ledger.grants.items() if key != w.key]
        if w.group_id and not any(g.order_id == grant.order_id for g in remaining):
            ungroup.append((index, (w.group_id, w.user_id)))
        if not remaining and not ledger.external:
            unenrol.append((index, (w.user_id, course_id)))
            continue
        needed = roles_needed(ledger, remaining)
        unassign += [
            (index, CourseRole(role_id=r, user_id=w.user_id, course_id=course_id))
            for r in grant.roles
            if r not in needed
        ]
        if remaining and not ledger.external:
            start, end = span(remaining)
            role = remaining[0].roles[0]
            redate.append(
                (index, Enrolment(course_id=course_id, user_id=w.user_id, role_id=role, timestart=start, timeend=end))
            )
    refused: dict[int, MoodlePermanentError] = {}
    for group_id in {pair[1][0] for pair in ungroup}:
        members = [(i, m[1]) for i, m in ungroup if m[0] == group_id]
        refused |= _send(svc, members, lambda moodle, chunk, g=group_id: remove_group_members(moodle, g, chunk))
    refused |= _send(svc, [p for p in unassign if p[0] not in refused], unassign_course_roles)
    refused |= _send(svc, [p for p in redate if p[0] not in refused], enrol_users)
    refused |= _send(svc, [p for p in unenrol if p[0] not in refused], unenrol_users)
    done = [i for i in held if i not in refused]
    after = svc.store.remove_grants([((withdrawals[i].user_id, course_id), withdrawals[i].key) for i in done])
    unenrolled = {i for i, _ in unenrol}
    _put_back(
        svc, course_id, [ledger for i, ledger in zip(done, after, strict=True) if i in unenrolled and ledger.grants]
    )
    return refused


def _put_back(svc: Services, course_id: int, ledgers: Sequence[EnrolmentLedger]) -> None:
    """Another order granted the course while we unenrolled: its enrolment comes back, as its grants say."""
    enrolments = []
    for ledger in ledgers:
        start, end = span(ledger.grants.values())
        for role in sorted(roles_needed(ledger, ledger.grants.values())):
            enrolments.append(
                Enrolment(course_id=course_id, user_id=ledger.user_id, role_id=role, timestart=start, timeend=end)
            )
    if enrolments:
        logger.warning("enrolments put back after a concurrent grant", extra={"users": len(ledgers)})
        enrol_users(svc.moodle, enrolments)


def _open_ledgers(
    svc: Services, course_id: int, requests: Sequence[GrantRequest]
) -> dict[tuple[int, int], EnrolmentLedger]:
    """The ledgers of the requests' users in the course, opening those that do not exist yet."""
    keys = [(r.user_id, course_id) for r in requests]
    ledgers = svc.store.get_ledgers(keys)
    missing = {r.user_id: r for r in requests if (r.user_id, course_id) not in ledgers}
    if not missing:
        return ledgers
    # Only a reused account can have been enrolled before: one look at the course for the whole batch.
    before = enrolled_roles(svc.moodle, course_id) if any(not r.new_account for r in missing.values()) else {}
    opened = [
        EnrolmentLedger(
            user_id=user_id,
            course_id=course_id,
            external=not request.new_account and user_id in before,
            roles_before=before.get(user_id, []) if not request.new_account else [],
        )
        for user_id, request in missing.items()
    ]
    return ledgers | svc.store.open_ledgers(opened)


def _send(
    svc: Services, indexed: Sequence[tuple[int, T]], call: Callable[..., object]
) -> dict[int, MoodlePermanentError]:
    """One call for the items; a refused one is isolated and reported under its owner's index."""
    if not indexed:
        return {}
    items = [item for _, item in indexed]
    refused = isolate_refusals(items, lambda chunk: call(svc.moodle, chunk))
    return {indexed[position][0]: error for position, error in refused.items()}
