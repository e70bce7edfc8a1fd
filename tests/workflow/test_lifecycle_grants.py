"""Undo only what an order granted: a person two orders granted the same course, and a person enrolled before the
order. The real state machine in the local runtime; the sandbox's enrolments, roles and groups asserted."""

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
    small_order,
    user_context_roles,
)

SHARED = "shared@acme-training.example"


def test_a_person_in_two_orders_keeps_the_course_until_the_last_one_is_cancelled(rt, shop):
    # Given order A (70 days) and order B (35 days) of one operator, both naming the same learner
    first = shop.fulfil(small_order("LIFE-A", [SHARED, "a1@acme-training.example"], endtime="+70D"))
    second = shop.fulfil(small_order("LIFE-B", [SHARED], endtime="+35D"))
    shared_id = by_email(first)[SHARED]["moodle_user_id"]
    a1_id = by_email(first)["a1@acme-training.example"]["moodle_user_id"]
    operator_id = first["operator"]["moodle_user_id"]
    assert by_email(second)[SHARED]["moodle_user_id"] == shared_id
    # the enrolment covers both orders: it ends with A's
    assert enrolment(rt, SPOCM1, shared_id)["timeend"] == START + 70 * DAY

    # When order A is cancelled
    shop.done(shop.cancel("LIFE-A"))

    # Then the shared learner is still a student of the course, with B's dates put back, in B's group only
    kept = enrolment(rt, SPOCM1, shared_id)
    assert (kept["role_ids"], kept["timestart"], kept["timeend"]) == ([STUDENT], START, START + 35 * DAY)
    assert [g["idnumber"] for g in rt.sandbox.state.groups(SPOCM1)] == ["LIFE-B"]
    assert shared_id in rt.sandbox.state.group_members(second["group"]["id"])
    # and A's own learner is gone, and so is the operator's supervision A gave over the account A created
    assert enrolment(rt, SPOCM1, a1_id) is None
    assert user_context_roles(rt, holder=operator_id) == set()
    # and the operator keeps B's supervisor enrolment (B's dates) and the support course B also granted
    operator = enrolment(rt, SPOCM1, operator_id)
    assert (operator["role_ids"], operator["timeend"]) == ([TEACHER], START + 35 * DAY)
    assert enrolment(rt, SUPPORT, operator_id) is not None

    # When order B is cancelled too
    shop.done(shop.cancel("LIFE-B"))

    # Then nothing either order granted is left
    assert enrolment(rt, SPOCM1, shared_id) is None
    assert enrolment(rt, SPOCM1, operator_id) is None
    assert enrolment(rt, SUPPORT, operator_id) is None
    assert rt.sandbox.state.groups(SPOCM1) == []


def test_a_person_enrolled_before_the_order_keeps_that_enrolment_its_dates_and_roles(rt, shop):
    # Given Alice (id 3), enrolled in SPOCM1 by someone else as a teacher for another period
    since, until = START - 100 * DAY, START + 400 * DAY
    moodle_admin(rt).call(
        "enrol_manual_enrol_users",
        {"enrolments": [{"roleid": TEACHER, "userid": 3, "courseid": SPOCM1, "timestart": since, "timeend": until}]},
    )

    # When an order names her as a learner
    document = shop.fulfil(small_order("LIFE-BEFORE", ["alice@example.com", "l1@acme-training.example"]))

    # Then she gets the student role in her own enrolment, whose dates stay hers, and is in the order's group
    alice = by_email(document)["alice@example.com"]
    assert (alice["status"], alice["moodle_user_id"]) == ("ENROLLED", 3)
    assert "already enrolled" in alice["warnings"][0]
    held = enrolment(rt, SPOCM1, 3)
    assert (held["role_ids"], held["timestart"], held["timeend"]) == ([TEACHER, STUDENT], since, until)
    assert 3 in rt.sandbox.state.group_members(document["group"]["id"])

    # When the order is cancelled
    shop.done(shop.cancel("LIFE-BEFORE"))

    # Then Alice is still enrolled as before the order: teacher, her dates; only the order's student role left
    assert enrolment(rt, SPOCM1, 3) == {
        "user_id": 3,
        "role_ids": [TEACHER],
        "timestart": since,
        "timeend": until,
        "suspended": False,
    }
    # and the order's own learner is unenrolled
    assert enrolment(rt, SPOCM1, by_email(document)["l1@acme-training.example"]["moodle_user_id"]) is None
