"""An order after it was accepted: retried after a fix in Moodle, amended, cancelled. The real state machine in the
local runtime, the sandbox's state asserted after each change."""

from __future__ import annotations

from tests.fixtures.lifecycle import (
    DAY,
    SPOCM1,
    START,
    STUDENT,
    SUPPORT,
    TEACHER,
    by_email,
    enrolment,
    moodle_admin,
    revision,
    small_order,
    user_context_roles,
)


def test_retry_after_fixing_an_ambiguous_email_enrols_that_participant_and_nobody_again(rt, shop):
    # Given an order whose learner dup@example.com matches two accounts (dup.one 6, dup.two 7): PARTIAL
    order = small_order("LIFE-RETRY", ["dup@example.com", "l1@acme-training.example"])
    first = shop.fulfil(order)
    assert (first["status"], by_email(first)["dup@example.com"]["status"]) == ("PARTIAL", "NEEDS_REVIEW")
    l1 = by_email(first)["l1@acme-training.example"]
    l1_before = enrolment(rt, SPOCM1, l1["moodle_user_id"])
    users_before = len(rt.sandbox.state.users())
    # and an administrator gives dup.two another email in Moodle
    moodle_admin(rt).call("core_user_update_users", {"users": [{"id": 7, "email": "dup.two@example.com"}]})

    # When the shop asks for a retry
    document = shop.done(shop.retry(order["order_id"]))

    # Then dup.one's account is enrolled as a student with the session's dates, the order is COMPLETED
    dup = by_email(document)["dup@example.com"]
    assert (dup["status"], dup["account"], dup["moodle_user_id"]) == ("ENROLLED", "reused", 6)
    assert enrolment(rt, SPOCM1, 6) == {
        "user_id": 6,
        "role_ids": [STUDENT],
        "timestart": START,
        "timeend": START + 35 * DAY,
        "suspended": False,
    }
    assert 6 in rt.sandbox.state.group_members(document["group"]["id"])
    assert document["status"] == "COMPLETED"
    # and nobody else was touched: no account made, l1's enrolment as it was
    assert len(rt.sandbox.state.users()) == users_before
    assert enrolment(rt, SPOCM1, l1["moodle_user_id"]) == l1_before
    # and the history names the retry's own execution
    assert [(c["kind"], c["execution_name"], c["outcome"]) for c in document["history"]] == [
        ("created", "LIFE-RETRY", "PARTIAL"),
        ("retried", "LIFE-RETRY--retry1", "COMPLETED"),
    ]
    # and a second retry finds nothing to do
    status, answer = shop.retry(order["order_id"])
    assert (status, answer["error"]) == (409, "nothing_to_retry")


def test_amendment_adds_removes_and_replaces_participants(rt, shop):
    # Given a fulfilled order of three learners (accounts created by the order, attached to the operator)
    order = small_order(
        "LIFE-AMEND", ["l1@acme-training.example", "l2@acme-training.example", "l3@acme-training.example"]
    )
    first = shop.fulfil(order)
    before = by_email(first)
    operator_id = first["operator"]["moodle_user_id"]
    l2_id = before["l2@acme-training.example"]["moodle_user_id"]
    l1_enrolment = enrolment(rt, SPOCM1, before["l1@acme-training.example"]["moodle_user_id"])

    # When revision 2 replaces l2 by l4 and adds l5 (5 seats)
    amended = revision(
        order,
        2,
        learners=[
            "l1@acme-training.example",
            "l3@acme-training.example",
            "l4@acme-training.example",
            "l5@acme-training.example",
        ],
    )
    document = shop.done(shop.amend(amended))

    # Then l2 is REMOVED: unenrolled, out of the group, no longer supervised by the operator; its account stays
    after = by_email(document)
    assert after["l2@acme-training.example"]["status"] == "REMOVED"
    assert enrolment(rt, SPOCM1, l2_id) is None
    assert l2_id not in rt.sandbox.state.group_members(document["group"]["id"])
    assert (TEACHER, l2_id) not in user_context_roles(rt, holder=operator_id)
    assert any(u["id"] == l2_id and not u["suspended"] for u in rt.sandbox.state.users())
    # and l4 and l5 are enrolled, in the group, supervised by the operator
    for email in ("l4@acme-training.example", "l5@acme-training.example"):
        added = after[email]
        assert (added["status"], added["account"], added["attached_to_operator"]) == ("ENROLLED", "created", True)
        assert enrolment(rt, SPOCM1, added["moodle_user_id"])["role_ids"] == [STUDENT]
        assert added["moodle_user_id"] in rt.sandbox.state.group_members(document["group"]["id"])
        assert (TEACHER, added["moodle_user_id"]) in user_context_roles(rt, holder=operator_id)
    # and l1 was not touched
    assert enrolment(rt, SPOCM1, after["l1@acme-training.example"]["moodle_user_id"]) == l1_enrolment
    assert (document["status"], document["revision"], document["seats"]) == ("COMPLETED", 2, 4)
    assert document["history"][-1]["summary"] == {"added": 2, "removed": 1}


def test_amendment_switches_a_role_and_moves_every_enrolment_to_the_new_dates(rt, shop):
    # Given a fulfilled order: l1 a learner, t1 a tutor, 35 days from 2026-01-01
    order = small_order("LIFE-MOVE", ["l1@acme-training.example"], ["t1@acme-training.example"])
    first = shop.fulfil(order)
    l1_id = by_email(first)["l1@acme-training.example"]["moodle_user_id"]
    t1_id = by_email(first)["t1@acme-training.example"]["moodle_user_id"]
    operator_id = first["operator"]["moodle_user_id"]

    # When revision 2 makes l1 a tutor and moves the session one week later, 42 days long
    later = START + 7 * DAY
    amended = revision(
        small_order(
            "LIFE-MOVE", [], ["l1@acme-training.example", "t1@acme-training.example"], starttime=later, endtime="+42D"
        ),
        2,
    )
    document = shop.done(shop.amend(amended))

    # Then l1 holds the supervisor role and no longer the student one
    assert enrolment(rt, SPOCM1, l1_id)["role_ids"] == [TEACHER]
    assert by_email(document)["l1@acme-training.example"]["role_enrolled"] == "teacher"
    # and every enrolment the order granted (participants and operator) has the new dates
    for user_id in (l1_id, t1_id, operator_id):
        granted = enrolment(rt, SPOCM1, user_id)
        assert (granted["timestart"], granted["timeend"]) == (later, later + 42 * DAY)
    assert document["course"]["timestart"] == later
    assert document["history"][-1]["summary"] == {"switched": 1, "redated": 1}


def test_cancellation_undoes_everything_the_order_granted_and_keeps_the_accounts(rt, shop):
    # Given a fulfilled order: Alice (an existing account) and two new accounts, the operator in SUPPORT
    order = small_order("LIFE-CANCEL", ["alice@example.com", "l1@acme-training.example"], ["t1@acme-training.example"])
    first = shop.fulfil(order)
    operator_id = first["operator"]["moodle_user_id"]
    ids = [p["moodle_user_id"] for p in first["participants"]]
    assert enrolment(rt, SUPPORT, operator_id) is not None
    users_before = rt.sandbox.state.users()

    # When the shop cancels it
    document = shop.done(shop.cancel(order["order_id"], "refund"))

    # Then nobody the order enrolled is enrolled any more, the operator neither, in the course or in SUPPORT
    assert document["status"] == "CANCELLED"
    for user_id in [*ids, operator_id]:
        assert enrolment(rt, SPOCM1, user_id) is None
    assert enrolment(rt, SUPPORT, operator_id) is None
    # and the order's group is gone, and the operator supervises nobody through it
    assert rt.sandbox.state.groups(SPOCM1) == []
    assert user_context_roles(rt, holder=operator_id) == set()
    # and every account is still there, none suspended
    assert rt.sandbox.state.users() == users_before
    assert {p["status"] for p in document["participants"]} == {"REMOVED"}
    assert document["history"][-1]["reason"] == "refund"
    assert document["history"][-1]["execution_name"] == "LIFE-CANCEL--cancel"
