"""The order lifecycle on a real Moodle 4.5 (the peer): retried after a fix in Moodle, amended, cancelled, a person two
orders share, a person enrolled before. Through the signed order API, as the sandbox's lifecycle tests call it;
asserted on Moodle's own tables (enrolment rows, role assignments in course and user contexts, groups, accounts).

Each test starts from the peer's fixture. Skipped when no peer is configured (see conftest.py). What Moodle held at
the end of each test is printed in its teardown (`pytest -rP` shows it), for the issue's closing note.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from seatflow.moodle import MoodleClient

from tests.fixtures.lifecycle import DAY, OPERATOR, SPOCM1, START, STUDENT, Shop, by_email, revision, small_order

ALICE, DUP_ONE, DUP_TWO = 3, 6, 7  # the fixture's users
SESSION = (START, START + 35 * DAY)  # small_order's dates
OPERATOR_EMAIL = OPERATOR["email"]


@pytest.fixture(autouse=True)
def what_moodle_held(moodle_db) -> Iterator[None]:
    yield
    print(moodle_db.describe())


def admin(peer) -> MoodleClient:
    """What a person does by hand in Moodle (fix an email, enrol someone), through the web services."""
    return MoodleClient(peer.url, peer.token, timeout=(3.0, 30.0))


def dates(enrolment) -> tuple[int, int]:
    return enrolment.timestart, enrolment.timeend


def ids(document, *emails: str) -> list[int]:
    people = by_email(document)
    return [people[e]["moodle_user_id"] for e in emails]


def test_retry_after_fixing_an_ambiguous_email_enrols_dup_one_and_duplicates_nothing(peer, runtime, moodle_db):
    # Given an order whose learner dup@example.com matches dup.one and dup.two: NEEDS_REVIEW, neither enrolled
    shop = Shop(runtime)
    first = shop.fulfil(small_order("PEER-RETRY", ["dup@example.com", "l1@peer.example"]))
    assert (first["status"], by_email(first)["dup@example.com"]["status"]) == ("PARTIAL", "NEEDS_REVIEW")
    assert moodle_db.enrolments_of(DUP_ONE) == moodle_db.enrolments_of(DUP_TWO) == {}
    (l1,) = ids(first, "l1@peer.example")
    operator = first["operator"]["moodle_user_id"]
    l1_row, supervised = moodle_db.enrolments_of(l1)["SPOCM1"], moodle_db.user_context_roles(operator)
    users, mails = moodle_db.user_count(), len(moodle_db.mails())
    # and an administrator gives dup.two another email in Moodle
    admin(peer).call("core_user_update_users", {"users": [{"id": DUP_TWO, "email": "dup.two@peer.example"}]})

    # When the shop asks for a retry
    document = shop.done(shop.retry("PEER-RETRY"))

    # Then dup.one has one active student enrolment in SPOCM1 with the session's dates; dup.two none
    enrolled = moodle_db.enrolments_of(DUP_ONE)
    assert set(enrolled) == {"SPOCM1"}
    assert (enrolled["SPOCM1"].roles, dates(enrolled["SPOCM1"]), enrolled["SPOCM1"].status) == (
        {"student"},
        SESSION,
        0,
    )
    assert moodle_db.enrolments_of(DUP_TWO) == {}
    # and the order's one group holds dup.one once more beside l1 and the operator
    assert moodle_db.groups("SPOCM1") == {"PEER-RETRY": {DUP_ONE, l1, operator}}
    # and nothing was duplicated or touched again: no account, no mail, l1's row as it was, no new supervision
    assert (moodle_db.user_count(), len(moodle_db.mails())) == (users, mails)
    assert moodle_db.enrolments_of(l1)["SPOCM1"] == l1_row
    assert moodle_db.user_context_roles(operator) == supervised == {l1: {"teacher"}}
    assert (document["status"], by_email(document)["dup@example.com"]["moodle_user_id"]) == ("COMPLETED", DUP_ONE)


def test_amendment_adds_removes_replaces_switches_a_role_and_moves_every_granted_enrolment(runtime, moodle_db):
    # Given a fulfilled order: learners l1, l2, l3 and tutor t1, 35 days from START
    shop = Shop(runtime)
    emails = ["l1@peer.example", "l2@peer.example", "l3@peer.example"]
    first = shop.fulfil(small_order("PEER-AMEND", emails, ["t1@peer.example"]))
    operator = first["operator"]["moodle_user_id"]
    l1, l2, l3, t1 = ids(first, *emails, "t1@peer.example")
    assert moodle_db.roles_in_context_of(l2) == {operator: {"teacher"}}

    # When revision 2 replaces l2 by l4, adds l5 (a fifth seat), makes l3 a tutor, and moves the session a week
    # later, 42 days long
    later = (START + 7 * DAY, START + 49 * DAY)
    moved = small_order(
        "PEER-AMEND",
        ["l1@peer.example", "l4@peer.example", "l5@peer.example"],
        ["t1@peer.example", "l3@peer.example"],
        starttime=later[0],
        endtime="+42D",
    )
    document = shop.done(shop.amend(revision(moved, 2)))

    # Then l2 is unenrolled everywhere, holds no role in SPOCM1, is in no group, and nobody holds a role in its user
    # context any more; its account is live and not suspended
    assert moodle_db.enrolments_of(l2) == {}
    assert moodle_db.course_roles("SPOCM1", l2) == set()
    assert moodle_db.roles_in_context_of(l2) == {} and moodle_db.user_context_roles(l2) == {}
    account = moodle_db.accounts_by_id([l2])[l2]
    assert (account.suspended, account.deleted) == (False, False)
    # and l3 is a teacher only
    assert moodle_db.course_roles("SPOCM1", l3) == {"teacher"}
    # and every SPOCM1 enrolment the order granted (participants and operator) has the new dates, active
    l4, l5 = ids(document, "l4@peer.example", "l5@peer.example")
    for user_id in (l1, l3, l4, l5, t1, operator):
        row = moodle_db.enrolments_of(user_id)["SPOCM1"]
        assert (dates(row), row.status) == (later, 0), user_id
    assert moodle_db.course_roles("SPOCM1", l4) == moodle_db.course_roles("SPOCM1", l5) == {"student"}
    # and the group and the operator's supervision follow revision 2
    assert moodle_db.groups("SPOCM1") == {"PEER-AMEND": {l1, l3, l4, l5, t1, operator}}
    assert moodle_db.user_context_roles(operator) == {u: {"teacher"} for u in (l1, l3, l4, l5, t1)}
    assert by_email(document)["l2@peer.example"]["status"] == "REMOVED"
    assert (document["status"], document["revision"]) == ("COMPLETED", 2)


def test_cancellation_undoes_enrolments_group_and_cross_roles_and_keeps_every_account(runtime, moodle_db):
    # Given a fulfilled order: Alice (an existing account, enrolled nowhere), l1 and tutor t1 (created), and the
    # operator (created), supervisor in SPOCM1, in SUPPORT, supervising l1 and t1
    alice_before = moodle_db.enrolments_of(ALICE)
    shop = Shop(runtime)
    first = shop.fulfil(small_order("PEER-CANCEL", ["alice@example.com", "l1@peer.example"], ["t1@peer.example"]))
    operator = first["operator"]["moodle_user_id"]
    people = [*ids(first, "alice@example.com", "l1@peer.example", "t1@peer.example"), operator]
    l1, t1 = people[1:3]
    assert set(moodle_db.enrolments_of(operator)) == {"SPOCM1", "SUPPORT"}
    assert moodle_db.user_context_roles(operator) == {l1: {"teacher"}, t1: {"teacher"}}
    accounts = moodle_db.accounts_by_id(people)

    # When the shop cancels it
    document = shop.done(shop.cancel("PEER-CANCEL", "refund"))

    # Then nobody holds an enrolment or a role the order gave: Alice is as before, the others enrolled nowhere
    assert moodle_db.enrolments_of(ALICE) == alice_before
    for user_id in people[1:]:
        assert moodle_db.enrolments_of(user_id) == {}, user_id
    for user_id in people:
        assert moodle_db.course_roles("SPOCM1", user_id) == moodle_db.course_roles("SUPPORT", user_id) == set()
    # and the order's group is deleted, and no role is held across user contexts
    assert moodle_db.groups("SPOCM1") == {}
    assert moodle_db.user_context_roles(operator) == moodle_db.roles_in_context_of(operator) == {}
    # and every account is still there as it was: not deleted, not suspended
    assert moodle_db.accounts_by_id(people) == accounts
    assert not any(a.suspended or a.deleted for a in accounts.values())
    assert document["status"] == "CANCELLED"
    assert {p["status"] for p in document["participants"]} == {"REMOVED"}


def test_a_person_in_two_orders_keeps_the_course_with_the_other_orders_dates_when_one_is_cancelled(runtime, moodle_db):
    # Given order A (70 days: a shared learner and a1) and order B (35 days: the shared learner), one operator;
    # the shared enrolment spans both, to A's end
    shared = "shared@peer.example"
    shop = Shop(runtime)
    a = shop.fulfil(small_order("PEER-A", [shared, "a1@peer.example"], endtime="+70D"))
    b = shop.fulfil(small_order("PEER-B", [shared]))
    shared_id, a1 = ids(a, shared, "a1@peer.example")
    operator = a["operator"]["moodle_user_id"]
    assert ids(b, shared) == [shared_id] and b["operator"]["moodle_user_id"] == operator
    assert dates(moodle_db.enrolments_of(shared_id)["SPOCM1"]) == (START, START + 70 * DAY)

    # When order A is cancelled
    shop.done(shop.cancel("PEER-A"))

    # Then the shared learner is still an active student of SPOCM1, with B's dates put back, in B's group only
    row = moodle_db.enrolments_of(shared_id)["SPOCM1"]
    assert (row.roles, dates(row), row.status) == ({"student"}, SESSION, 0)
    assert moodle_db.groups("SPOCM1") == {"PEER-B": {shared_id, operator}}
    # and A's own learner is unenrolled
    assert moodle_db.enrolments_of(a1) == {}
    # and the operator keeps B's supervisor enrolment, with B's dates, and the support course B granted too
    operator_rows = moodle_db.enrolments_of(operator)
    assert (operator_rows["SPOCM1"].roles, dates(operator_rows["SPOCM1"])) == ({"teacher"}, SESSION)
    assert "SUPPORT" in operator_rows


def test_a_person_enrolled_before_the_order_stays_enrolled_after_its_cancellation(peer, runtime, moodle_db):
    # Given Alice enrolled in SPOCM1 as a student by someone else, from 100 days before the session, with no end
    admin(peer).call(
        "enrol_manual_enrol_users",
        {
            "enrolments": [
                {"roleid": STUDENT, "userid": ALICE, "courseid": SPOCM1, "timestart": START - 100 * DAY, "timeend": 0}
            ]
        },
    )
    before = moodle_db.enrolments_of(ALICE)
    # and an order naming her and l1 as learners, fulfilled: her enrolment row untouched, her in the order's group
    shop = Shop(runtime)
    first = shop.fulfil(small_order("PEER-BEFORE", ["alice@example.com", "l1@peer.example"]))
    assert by_email(first)["alice@example.com"]["status"] == "ENROLLED"
    assert moodle_db.enrolments_of(ALICE) == before
    assert ALICE in moodle_db.groups("SPOCM1")["PEER-BEFORE"]

    # When the order is cancelled
    shop.done(shop.cancel("PEER-BEFORE"))

    # Then Alice's enrolment is the very row she had before: same id, dates, status, student role, not modified
    assert moodle_db.enrolments_of(ALICE) == before
    assert before["SPOCM1"].roles == {"student"}
    # and the order's own learner is unenrolled, its group deleted
    (l1,) = ids(first, "l1@peer.example")
    assert moodle_db.enrolments_of(l1) == {}
    assert moodle_db.groups("SPOCM1") == {}
