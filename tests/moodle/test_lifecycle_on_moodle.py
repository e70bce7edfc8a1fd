"""The order lifecycle on a real Moodle 4.5 (the peer): retried after a fix in Moodle, amended, cancelled, with a
person two orders share and a person enrolled before. Asserted on Moodle's own database.

Each test starts from the peer's fixture. Skipped when no peer is configured (see conftest.py).
"""

from __future__ import annotations

from seatflow.moodle import MoodleClient

from tests.fixtures.lifecycle import DAY, START, Shop, by_email, revision, small_order

ALICE, DUP_ONE, DUP_TWO = 3, 6, 7
SHARED = "shared@peer.example"


def admin(peer) -> MoodleClient:
    """What a person does by hand in Moodle (fix an email, enrol someone), through the web services."""
    return MoodleClient(peer.url, peer.token, timeout=(3.0, 30.0))


def dates(enrolment) -> tuple[int, int]:
    return enrolment.timestart, enrolment.timeend


def test_retry_after_fixing_an_ambiguous_email_on_moodle(peer, runtime, moodle_db):
    # Given an order whose learner dup@example.com matches dup.one and dup.two: PARTIAL
    shop = Shop(runtime)
    first = shop.fulfil(small_order("PEER-RETRY", ["dup@example.com", "l1@peer.example"]))
    assert by_email(first)["dup@example.com"]["status"] == "NEEDS_REVIEW"
    # and an administrator gives dup.two another email
    admin(peer).call("core_user_update_users", {"users": [{"id": DUP_TWO, "email": "dup.two@peer.example"}]})
    users = moodle_db.user_count()

    # When the order is retried
    document = shop.done(shop.retry("PEER-RETRY"))

    # Then dup.one is a student of the course with the session's dates, in the group; nobody got a new account
    enrolled = moodle_db.enrolments("SPOCM1")["dup@example.com"]
    assert (enrolled.user_id, enrolled.roles, dates(enrolled)) == (DUP_ONE, {"student"}, (START, START + 35 * DAY))
    assert "dup@example.com" in moodle_db.group_members("PEER-RETRY")
    assert moodle_db.user_count() == users
    assert document["status"] == "COMPLETED"


def test_amendment_on_moodle_adds_removes_replaces_switches_and_moves_dates(runtime, moodle_db):
    # Given a fulfilled order: learners l1, l2, l3 and tutor t1
    shop = Shop(runtime)
    order = small_order("PEER-AMEND", ["l1@peer.example", "l2@peer.example", "l3@peer.example"], ["t1@peer.example"])
    first = shop.fulfil(order)
    operator_id = first["operator"]["moodle_user_id"]
    l2_id = by_email(first)["l2@peer.example"]["moodle_user_id"]

    # When revision 2 removes l2, adds l4 and l5, makes l3 a tutor, and moves the session a week, 42 days long
    later = START + 7 * DAY
    moved = small_order(
        "PEER-AMEND",
        ["l1@peer.example", "l4@peer.example", "l5@peer.example"],
        ["t1@peer.example", "l3@peer.example"],
        starttime=later,
        endtime="+42D",
    )
    document = shop.done(shop.amend(revision(moved, 2)))

    # Then Moodle holds revision 2: l2 unenrolled (its account kept), l3 a teacher only, everyone on the new dates
    enrolments = moodle_db.enrolments("SPOCM1")
    assert "l2@peer.example" not in enrolments and len(moodle_db.accounts_by_email("l2@peer.example")) == 1
    assert enrolments["l3@peer.example"].roles == {"teacher"}
    for email in ("l1@peer.example", "l4@peer.example", "l5@peer.example", "t1@peer.example", "l3@peer.example"):
        assert dates(enrolments[email]) == (later, later + 42 * DAY), email
    assert dates(enrolments["claire.bernard@acme-training.example"]) == (later, later + 42 * DAY)
    # and the group and the operator's supervision follow: l2 out, l4 and l5 in
    members = moodle_db.group_members("PEER-AMEND")
    assert "l2@peer.example" not in members and {"l4@peer.example", "l5@peer.example"} <= members
    supervised = moodle_db.user_context_roles(operator_id)
    assert l2_id not in supervised
    assert {by_email(document)[e]["moodle_user_id"] for e in ("l4@peer.example", "l5@peer.example")} <= set(supervised)
    assert document["status"] == "COMPLETED"


def test_cancellations_on_moodle_keep_what_another_order_or_someone_else_granted(peer, runtime, moodle_db):
    # Given Alice enrolled in SPOCM1 by someone else as a teacher, for another period
    since, until = START - 100 * DAY, START + 400 * DAY
    admin(peer).call(
        "enrol_manual_enrol_users",
        {"enrolments": [{"roleid": 4, "userid": ALICE, "courseid": 2, "timestart": since, "timeend": until}]},
    )
    # and order A (70 days: Alice, a shared learner, a1) and order B (35 days: the shared learner), one operator
    shop = Shop(runtime)
    shop.fulfil(small_order("PEER-A", ["alice@example.com", SHARED, "a1@peer.example"], endtime="+70D"))
    shop.fulfil(small_order("PEER-B", [SHARED], endtime="+35D"))
    assert dates(moodle_db.enrolments("SPOCM1")["alice@example.com"]) == (since, until)

    # When order A is cancelled
    cancelled = shop.done(shop.cancel("PEER-A"))

    # Then Alice is as before A: a teacher, her dates; the shared learner keeps B's enrolment and dates; a1 is gone
    enrolments = moodle_db.enrolments("SPOCM1")
    alice = enrolments["alice@example.com"]
    assert (alice.roles, dates(alice)) == ({"teacher"}, (since, until))
    shared = enrolments[SHARED]
    assert (shared.roles, dates(shared)) == ({"student"}, (START, START + 35 * DAY))
    assert "a1@peer.example" not in enrolments
    # and the operator keeps B's supervisor enrolment and the support course; A's group is empty, B's intact
    operator = enrolments["claire.bernard@acme-training.example"]
    assert (operator.roles, dates(operator)) == ({"teacher"}, (START, START + 35 * DAY))
    assert "claire.bernard@acme-training.example" in moodle_db.enrolments("SUPPORT")
    assert moodle_db.group_members("PEER-A") == set()
    assert moodle_db.group_members("PEER-B") == {SHARED, "claire.bernard@acme-training.example"}
    assert cancelled["status"] == "CANCELLED"

    # When order B is cancelled too
    shop.done(shop.cancel("PEER-B"))

    # Then only Alice's own enrolment is left, untouched, and every account is still there
    assert set(moodle_db.enrolments("SPOCM1")) == {"alice@example.com"}
    assert "claire.bernard@acme-training.example" not in moodle_db.enrolments("SUPPORT")
    assert all(len(moodle_db.accounts_by_email(e)) == 1 for e in (SHARED, "a1@peer.example"))
