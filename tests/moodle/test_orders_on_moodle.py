"""Orders fulfilled end to end on a real Moodle 4.5 (the peer): the local runtime's workflow, Moodle's database.

Each test starts from the peer's fixture. Skipped when no peer is configured (see conftest.py).
"""

from __future__ import annotations

import copy

from tests.moodle.orders import (
    by_email,
    fulfil,
    fulfil_at_once,
    make_order,
    new_learners,
    person,
    problems_on_moodle,
    report,
    sample_order,
)

ERIN_ID, DUP_ONE_ID, DUP_TWO_ID = 8, 6, 7


def test_sample_order_is_fulfilled_on_moodle(runtime, moodle_db):
    # Given the sample order: 10 learners (Alice already has an account) and a tutor, a new operator
    order = sample_order()

    # When it is fulfilled on the peer
    document = fulfil(runtime, order)

    # Then everyone is enrolled with the session's dates, in the order's group, on one account each, mailed once
    problems = problems_on_moodle(moodle_db, [document])
    assert not problems, report(problems, [document])
    assert document["status"] == "COMPLETED"
    # and the operator supervises exactly the accounts the order created, and is a customer of SUPPORT
    created = {p["moodle_user_id"] for p in document["participants"] if p["account"] == "created"}
    operator_id = document["operator"]["moodle_user_id"]
    assert moodle_db.user_context_roles(operator_id) == {user_id: {"teacher"} for user_id in created}
    assert moodle_db.enrolments("SUPPORT")["claire.bernard@acme-training.example"].roles == {"student", "customer"}


def test_namesakes_in_different_batches_get_an_account_each(runtime, moodle_db):
    # Given a 30-participant order (one participant per batch) that opens with five pairs of namesakes, Jean Dupont
    # first: the pairs' batches run side by side, so several pairs race for the same username
    names = [("Jean", "Dupont"), ("Marie", "Martin"), ("Ahmed", "Benali"), ("Anna", "Schmidt"), ("Luca", "Rossi")]
    namesakes = [
        person(first, last, f"{first}.{last}@{domain}".lower())
        for first, last in names
        for domain in ("acme-training.example", "other-school.example")
    ]
    order = make_order("PEER-NAMESAKES", namesakes + new_learners(20, "Namesake"))

    # When it is fulfilled
    document = fulfil(runtime, order)

    # Then every namesake is enrolled on an account of their own, whose username says who they are
    problems = problems_on_moodle(moodle_db, [document])
    assert not problems, report(problems, [document])
    accounts = [moodle_db.accounts_by_email(p["email"])[0] for p in namesakes]
    assert len({account.id for account in accounts}) == 10
    for (first, last), pair in zip(names, zip(accounts[::2], accounts[1::2], strict=True), strict=True):
        assert all(account.username.startswith(f"{first}.{last}".lower()) for account in pair), pair
    assert document["status"] == "COMPLETED"


def test_non_latin_names_get_readable_usernames(runtime, moodle_db):
    # Given learners whose names hold no Latin letter: Chinese, Russian, Arabic, Greek, Korean and Hindi
    learners = [
        person("小明", "王", "xiaoming.wang@peer.example"),
        person("Дмитрий", "Иванов", "dmitry.ivanov@peer.example"),
        person("محمد", "علي", "mohamed.ali@peer.example"),
        person("Γιώργος", "Παπαδόπουλος", "giorgos.papadopoulos@peer.example"),
        person("민준", "김", "minjun.kim@peer.example"),
        person("राहुल", "शर्मा", "rahul.sharma@peer.example"),
    ]
    order = make_order("PEER-NONLATIN", learners)

    # When the order is fulfilled
    document = fulfil(runtime, order)

    # Then all six are enrolled, each on one account whose username is neither `user` nor `userN`
    problems = problems_on_moodle(moodle_db, [document])
    assert not problems, report(problems, [document])
    usernames = [moodle_db.accounts_by_email(p["email"])[0].username for p in learners]
    assert len(set(usernames)) == 6, usernames
    assert document["status"] == "COMPLETED"


def test_two_concurrent_orders_sharing_twenty_new_emails_create_each_account_once(runtime, moodle_db):
    # Given two orders, each with its own id and operator, that both name the same 20 unknown people (plus 5 each)
    shared = new_learners(20, "Shared")
    first = make_order("PEER-RACE-A", shared + new_learners(5, "OnlyA"))
    second = make_order(
        "PEER-RACE-B",
        copy.deepcopy(shared) + new_learners(5, "OnlyB"),
        operator={"firstname": "Alice", "lastname": "Martin", "email": "alice@example.com"},
    )

    # When both are posted at the same moment and run side by side
    documents = fulfil_at_once(runtime, [first, second])

    # Then every participant of both orders is enrolled, each shared person on one account both orders agree on
    problems = problems_on_moodle(moodle_db, list(documents.values()))
    assert not problems, report(problems, documents.values())
    a, b = (by_email(documents[order_id]) for order_id in ("PEER-RACE-A", "PEER-RACE-B"))
    for learner in shared:
        email = learner["email"].lower()
        assert a[email]["moodle_user_id"] == b[email]["moodle_user_id"] == moodle_db.accounts_by_email(email)[0].id
    assert {d["status"] for d in documents.values()} == {"COMPLETED"}


def test_email_stored_in_another_case_reuses_the_account(runtime, moodle_db):
    # Given Erin's account, whose email Moodle stores as Erin.Mixed@Example.COM, ordered in lower case
    learners = [person("Erin", "Mixed", "erin.mixed@example.com"), *new_learners(2, "Case")]
    order = make_order("PEER-CASE", learners)

    # When the order is fulfilled
    document = fulfil(runtime, order)

    # Then Erin's own account is reused and enrolled: no second account, no "New user account" mail for her
    problems = problems_on_moodle(moodle_db, [document])
    assert not problems, report(problems, [document])
    erin = by_email(document)["erin.mixed@example.com"]
    assert (erin["account"], erin["moodle_user_id"]) == ("reused", ERIN_ID)
    assert [account.id for account in moodle_db.accounts_by_email("erin.mixed@example.com")] == [ERIN_ID]
    assert moodle_db.mails_to("erin.mixed@example.com") == []


def test_ambiguous_email_needs_review_and_nothing_is_guessed(runtime, moodle_db):
    # Given a learner whose email belongs to two accounts (dup.one and dup.two), beside two new learners
    learners = [person("Dana", "Dup", "dup@example.com"), *new_learners(2, "Ambiguous")]
    order = make_order("PEER-AMBIGUOUS", learners)

    # When the order is fulfilled
    document = fulfil(runtime, order)

    # Then that learner needs review, naming both accounts; neither is enrolled, no third account appears
    problems = problems_on_moodle(moodle_db, [document], needs_review=["dup@example.com"])
    assert not problems, report(problems, [document])
    dup = by_email(document)["dup@example.com"]
    assert "dup.one" in dup["reason"] and "dup.two" in dup["reason"]
    assert [account.id for account in moodle_db.accounts_by_email("dup@example.com")] == [DUP_ONE_ID, DUP_TWO_ID]
    assert "dup@example.com" not in moodle_db.enrolments("SPOCM1")
    assert document["status"] == "PARTIAL"


def test_a_300_participant_order_is_fulfilled(runtime, moodle_db):
    # Given an order of 299 new learners and a new tutor
    order = make_order(
        "PEER-300", new_learners(299, "Big"), tutors=[person("Tina", "Tutor", "tina.tutor@peer.example")]
    )

    # When it is fulfilled
    document = fulfil(runtime, order)

    # Then all 300 are enrolled and grouped, on 300 new accounts, each mailed once
    problems = problems_on_moodle(moodle_db, [document])
    assert not problems, report(problems, [document])
    assert sum(moodle_db.new_account_mails().values()) == 300
    assert document["status"] == "COMPLETED"
