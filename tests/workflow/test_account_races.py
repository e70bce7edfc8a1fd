"""Whole orders whose people race for accounts, run by the real state machine against the sandbox: namesakes in
different batches, names in other scripts, concurrent orders sharing new emails, an email stored in another case.

`make race` runs these 20 times in a row.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from seatflow_local.runtime import LocalRuntime
from tests.fixtures.orders import fulfil, fulfil_at_once

pytestmark = pytest.mark.race

EVENTS = Path(__file__).resolve().parents[2] / "events"
NON_LATIN = [
    ("小明", "王", "xiaoming.wang"),
    ("Дмитрий", "Иванов", "dmitriy.ivanov"),
    ("محمد", "علي", "mhmd.ly"),
    ("Γιώργος", "Παπαδόπουλος", "giorgos.papadopoylos"),
    ("민준", "김", "minjun.gim"),
    ("अर्जुन", "शर्मा", "arjun.srma"),
]


def order_of(order_id: str, learners: list[dict[str, str]]) -> dict[str, Any]:
    base = json.loads((EVENTS / "order_spocm1.json").read_text(encoding="utf-8"))
    return {**base, "order_id": order_id, "seats": len(learners), "participants": {"learners": learners, "tutors": []}}


def learner(firstname: str, lastname: str, email: str) -> dict[str, str]:
    return {"firstname": firstname, "lastname": lastname, "email": email}


def accounts_of(rt: LocalRuntime, email: str) -> list[dict[str, Any]]:
    return [u for u in rt.sandbox.state.users() if u["email"].lower() == email.lower()]


@pytest.fixture
def runtime():
    # Two Map slots: 30 participants go in 2 striped batches of 15, so namesakes land in both batches at once.
    with LocalRuntime(max_concurrency=2) as rt:
        yield rt


def test_namesakes_in_different_batches_each_get_their_own_account(runtime):
    # Given 30 learners, six of them named Jean Dupont with different emails, spread over the batches
    learners = [
        learner("Jean", "Dupont", f"jean.dupont{i}@acme.example")
        if i % 5 == 0
        else learner("Ana", f"L{i}", f"a{i}@acme.example")
        for i in range(30)
    ]
    # When the order is fulfilled
    document = fulfil(runtime, order_of("RACE-NAMESAKES", learners))
    # Then all are enrolled, each Jean Dupont with his own account and a distinct username
    assert document["status"] == "COMPLETED"
    jeans = [p for p in document["participants"] if p["email"].startswith("jean.dupont")]
    assert sorted(p["username"] for p in jeans) == ["jean.dupont"] + [f"jean.dupont{n}" for n in range(1, 6)]
    assert all(len(accounts_of(runtime, p["email"])) == 1 for p in jeans)


def test_names_in_other_scripts_get_readable_usernames(runtime):
    learners = [learner(first, last, f"person{i}@corp.example") for i, (first, last, _) in enumerate(NON_LATIN)]
    document = fulfil(runtime, order_of("RACE-SCRIPTS", learners))
    assert document["status"] == "COMPLETED"
    assert [p["username"] for p in document["participants"]] == [username for *_, username in NON_LATIN]


def test_two_concurrent_orders_sharing_new_emails_create_each_account_once(runtime):
    # Given two orders of 20 learners sharing 12 new emails, posted at the same moment
    shared = [learner("Sam", f"Shared{i}", f"shared{i}@acme.example") for i in range(12)]
    first = order_of("RACE-A", shared + [learner("Ann", f"A{i}", f"a{i}@acme.example") for i in range(8)])
    second = order_of("RACE-B", [learner("Bob", f"B{i}", f"b{i}@acme.example") for i in range(8)] + shared[::-1])
    documents = fulfil_at_once(runtime, (first, second))
    # Then both complete, each shared email has one account, created by one order and reused by the other,
    # and nobody is sent to review
    assert {d["status"] for d in documents.values()} == {"COMPLETED"}
    for person in shared:
        [account] = accounts_of(runtime, person["email"])
        outcomes = sorted(
            next(p["account"] for p in d["participants"] if p["email"] == person["email"]) for d in documents.values()
        )
        assert outcomes == ["created", "reused"]
        assert {
            next(p["moodle_user_id"] for p in d["participants"] if p["email"] == person["email"])
            for d in documents.values()
        } == {account["id"]}
    # and Moodle mailed one password per account
    created = [u for u in runtime.sandbox.state.users() if u["id"] > 8]  # the fixture's users end at id 8
    assert sorted(m["to"] for m in runtime.sandbox.outbox) == sorted(u["email"] for u in created)


def test_an_email_stored_in_another_case_is_reused_not_created(runtime):
    order = order_of("RACE-CASE", [learner("Erin", "Mixed", "erin.mixed@example.com")])
    document = fulfil(runtime, order)
    [participant] = document["participants"]
    assert (participant["status"], participant["account"], participant["username"]) == (
        "ENROLLED",
        "reused",
        "erin.mixed",
    )
    assert len(accounts_of(runtime, "erin.mixed@example.com")) == 1


def test_a_replayed_concurrent_pair_duplicates_nothing(runtime):
    # Given two orders sharing new emails, already fulfilled
    shared = [learner("Sam", f"Shared{i}", f"shared{i}@acme.example") for i in range(6)]
    orders = [order_of("RACE-R1", shared), order_of("RACE-R2", shared[::-1])]
    for order in orders:
        fulfil(runtime, order)
    users_before = len(runtime.sandbox.state.users())
    # When both are posted again
    for order in copy.deepcopy(orders):
        fulfil(runtime, order)
    # Then nothing new exists
    assert len(runtime.sandbox.state.users()) == users_before
