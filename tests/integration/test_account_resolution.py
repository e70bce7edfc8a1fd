"""Account resolution per batch, against the sandbox over HTTP and the claims in moto: the right account, exactly
once, in a handful of Moodle calls per batch, whatever races around it."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from seatflow.accounts import AccountRequest, BatchResolution, resolve_accounts
from seatflow.models.order import Person, normalise_email
from seatflow.moodle import MoodleClient
from seatflow.store import CLAIM_LEASE_SECONDS, ClaimRequest, OrderStore

ORDER = "SHOP-A"


def person(firstname: str, lastname: str, email: str) -> Person:
    return Person(firstname=firstname, lastname=lastname, email=email)


def requests_for(*people: Person) -> list[AccountRequest]:
    return [AccountRequest(f"learner-{i:04d}", p) for i, p in enumerate(people, start=1)]


def resolve(client: MoodleClient, store: OrderStore, people: list[AccountRequest], **kw: Any) -> BatchResolution:
    return resolve_accounts(client, store, people, order_id=kw.pop("order_id", ORDER), **kw)


def outcomes(batch: BatchResolution) -> dict[str, tuple[str, str | None]]:
    return {k: (r.outcome, r.user.username if r.user else None) for k, r in batch.resolved.items()}


def client_with_hook(sandbox: Any, after: Callable[[str], None]) -> MoodleClient:
    """A client that runs ``after(wsfunction)`` once each answer is in: a rival acting between two of our calls."""
    session = requests.Session()

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        body = str(response.request.body or "")
        wsfunction = body.split("wsfunction=", 1)[1].split("&", 1)[0]
        after(wsfunction)

    session.hooks["response"].append(hook)
    return MoodleClient(sandbox.url, sandbox.token, session=session)


def create_directly(sandbox: Any, username: str, email: str, lastname: str = "Rival") -> int:
    rival = MoodleClient(sandbox.url, sandbox.token)
    users = [{"username": username, "firstname": "Jean", "lastname": lastname, "email": email, "createpassword": 1}]
    return int(rival.call("core_user_create_users", {"users": users})[0]["id"])


# --- the calls a batch costs ---------------------------------------------------------------------------


def test_a_batch_of_new_people_costs_one_lookup_one_check_and_one_create(moodle_client, moodle_sandbox, store):
    # Given five new people of one company
    people = requests_for(*(person("Ana", f"Lopez{i}", f"ana.lopez{i}@acme.example") for i in range(5)))
    # When their accounts are resolved together
    batch = resolve(moodle_client, store, people)
    # Then all five are created with three Moodle calls, and each gets one password mail
    assert {o for o, _ in outcomes(batch).values()} == {"created"}
    assert moodle_client.calls == {
        "core_user_get_users": 1,
        "core_user_get_users_by_field": 1,
        "core_user_create_users": 1,
    }
    assert sorted(m["to"] for m in moodle_sandbox.outbox) == sorted(r.person.email for r in people)


def test_existing_people_of_one_domain_cost_one_lookup_that_sees_every_case(moodle_client, store):
    # Given alice@example.com, Erin.Mixed@Example.COM and bob@example.com exist
    people = requests_for(
        person("Alice", "Martin", "ALICE@example.com"),
        person("Erin", "Mixed", "erin.mixed@example.com"),
        person("Bob", "Durand", "bob@example.com"),
    )
    # When they are resolved together
    batch = resolve(moodle_client, store, people)
    # Then one domain lookup finds all three, whatever the case each was stored in
    assert outcomes(batch) == {
        "learner-0001": ("reused", "alice.martin"),
        "learner-0002": ("reused", "erin.mixed"),
        "learner-0003": ("reused", "bob.durand"),
    }
    assert moodle_client.calls == {"core_user_get_users": 1}


def test_a_domain_lookup_still_refuses_to_guess_between_two_accounts(moodle_client, store):
    people = requests_for(
        person("Dup", "One", "dup@example.com"),
        person("Alice", "Martin", "alice@example.com"),
        person("Carol", "Suspended", "carol@example.com"),
    )
    batch = resolve(moodle_client, store, people)
    assert batch.resolved["learner-0001"].outcome == "ambiguous"
    assert batch.resolved["learner-0001"].candidates == ["dup.one", "dup.two"]
    assert batch.resolved["learner-0002"].outcome == "reused"
    assert batch.resolved["learner-0003"].outcome == "suspended"


# --- usernames ----------------------------------------------------------------------------------------------


def test_namesakes_of_one_batch_get_distinct_usernames_from_one_check(moodle_client, store):
    # Given alice.martin exists, and a batch holds two more Alice Martins
    people = requests_for(
        person("Alice", "Martin", "alice.two@corp.example"), person("Alice", "Martin", "alice.three@corp.example")
    )
    batch = resolve(moodle_client, store, people)
    assert [u for _, u in outcomes(batch).values()] == ["alice.martin1", "alice.martin2"]
    assert moodle_client.calls["core_user_get_users_by_field"] == 1


def test_non_latin_names_get_usernames_people_recognise(moodle_client, store):
    people = requests_for(
        person("小明", "王", "wang@corp.example"),
        person("Дмитрий", "Иванов", "dmitriy@corp.example"),
        person("Γιώργος", "Παπαδόπουλος", "giorgos@corp.example"),
        person("!!", "??", "m.ali@corp.example"),
    )
    batch = resolve(moodle_client, store, people)
    assert [u for _, u in outcomes(batch).values()] == [
        "xiaoming.wang",
        "dmitriy.ivanov",
        "giorgos.papadopoylos",
        "m.ali",
    ]


# --- races ------------------------------------------------------------------------------------------------


@pytest.mark.race
def test_a_username_taken_between_check_and_create_moves_to_the_next_one(moodle_sandbox, store):
    # Given a rival creates jean.dupont right after our availability check
    raced: list[str] = []

    def rival(wsfunction: str) -> None:
        if wsfunction == "core_user_get_users_by_field" and not raced:
            raced.append(wsfunction)
            create_directly(moodle_sandbox, "jean.dupont", "rival@elsewhere.example")

    client = client_with_hook(moodle_sandbox, rival)
    # When Jean Dupont's account is created
    batch = resolve(client, store, requests_for(person("Jean", "Dupont", "jean@corp.example")))
    # Then the refusal is recognised as the race and he is jean.dupont1; the claim says so
    assert outcomes(batch) == {"learner-0001": ("created", "jean.dupont1")}
    claim = store.get_account_claim("jean@corp.example")
    assert (claim.state, claim.username) == ("CREATED", "jean.dupont1")


@pytest.mark.race
def test_a_create_that_landed_late_is_recognised_by_the_username_asked_for(moodle_client, moodle_sandbox, store):
    # Given our earlier attempt asked for jean.dupont and timed out, but Moodle did create it
    store.claim_accounts([ClaimRequest("jean@corp.example", ORDER, "learner-0001", "jean.dupont")])
    user_id = create_directly(moodle_sandbox, "jean.dupont", "jean@corp.example", lastname="Dupont")
    # When the batch is retried
    batch = resolve(moodle_client, store, requests_for(person("Jean", "Dupont", "jean@corp.example")))
    # Then the account is ours ("created", so it is attached), and no second one is made
    assert outcomes(batch) == {"learner-0001": ("created", "jean.dupont")}
    assert "core_user_create_users" not in moodle_client.calls
    assert store.get_account_claim("jean@corp.example").moodle_user_id == user_id


@pytest.mark.race
def test_a_strangers_account_that_appeared_meanwhile_is_reused_not_adopted(moodle_client, moodle_sandbox, store):
    # Given our earlier attempt asked for jean.dupont and failed, and someone else created jean.d for the email
    store.claim_accounts([ClaimRequest("jean@corp.example", ORDER, "learner-0001", "jean.dupont")])
    create_directly(moodle_sandbox, "jean.d", "jean@corp.example", lastname="Dupont")
    # When the batch is retried
    batch = resolve(moodle_client, store, requests_for(person("Jean", "Dupont", "jean@corp.example")))
    # Then that account is reused (never attached to the operator), and our claim is given up
    assert outcomes(batch) == {"learner-0001": ("reused", "jean.d")}
    assert store.get_account_claim("jean@corp.example") is None


@pytest.mark.race
def test_an_email_created_by_another_order_after_our_lookup_is_reused_not_reviewed(moodle_sandbox, store):
    # Given another order creates and claims the email right after our lookup found nothing
    done: list[int] = []

    def other_order(wsfunction: str) -> None:
        if wsfunction == "core_user_get_users" and not done:
            user_id = create_directly(moodle_sandbox, "noe.roux", "noe@corp.example", lastname="Roux")
            [claim] = store.claim_accounts(
                [ClaimRequest("noe@corp.example", "SHOP-B", "learner-0007", "noe.roux")]
            ).values()
            store.complete_account_claims([(claim, user_id, "noe.roux")])
            done.append(user_id)

    client = client_with_hook(moodle_sandbox, other_order)
    # When our batch claims the email
    batch = resolve(client, store, requests_for(person("Noé", "Roux", "noe@corp.example")))
    # Then the account the other order made is used, as "reused": no false review, no second account
    assert outcomes(batch) == {"learner-0001": ("reused", "noe.roux")}
    assert [u["username"] for u in moodle_sandbox.state.users() if u["email"] == "noe@corp.example"] == ["noe.roux"]


@pytest.mark.race
def test_a_claim_left_creating_by_a_batch_that_gave_up_is_taken_over_after_the_lease(moodle_client, store):
    # Given another order claimed the email long ago and never created the account
    store.claim_accounts([ClaimRequest("noe@corp.example", "SHOP-B", "learner-0007", "noe.roux")], now=1_000_000)
    # When our batch needs it after the lease
    batch = resolve(
        moodle_client,
        store,
        requests_for(person("Noé", "Roux", "noe@corp.example")),
        now=1_000_000 + CLAIM_LEASE_SECONDS + 1,
    )
    # Then we create it
    assert outcomes(batch) == {"learner-0001": ("created", "noe.roux")}


def test_an_email_another_order_is_creating_right_now_waits(moodle_client, store):
    store.claim_accounts([ClaimRequest("noe@corp.example", "SHOP-B", "learner-0007", "noe.roux")])
    batch = resolve(
        moodle_client,
        store,
        requests_for(person("Noé", "Roux", "noe@corp.example"), person("Ana", "Lopez", "ana@corp.example")),
    )
    assert list(batch.waiting) == ["learner-0001"]
    assert outcomes(batch) == {"learner-0002": ("created", "ana.lopez")}


# --- refusals -----------------------------------------------------------------------------------------------


def test_a_refused_person_fails_alone_and_the_retry_mails_nobody_about_a_phantom_account(
    moodle_client, moodle_sandbox, store
):
    # Given a batch whose third person has an email Moodle refuses (one our intake would not let through)
    people = requests_for(
        person("Ana", "Lopez", "ana@corp.example"),
        person("Bo", "Berg", "bo@corp.example"),
        Person.model_construct(firstname="Bad", lastname="Email", email="not-an-email"),
        person("Cy", "Mori", "cy@corp.example"),
    )
    # When the batch is resolved
    batch = resolve(moodle_client, store, people)
    # Then the bad one is refused with Moodle's words and its claim is released; the three others are created
    assert batch.resolved["learner-0003"].outcome == "refused"
    assert "invalidparameter" in (batch.resolved["learner-0003"].reason or "")
    assert store.get_account_claim("not-an-email") is None
    created = [batch.resolved[k] for k in ("learner-0001", "learner-0002", "learner-0004")]
    assert [r.outcome for r in created] == ["created"] * 3
    # And after the one refused batch call (which Moodle mails the rows before the bad one about), the accounts
    # are created one at a time: no further mail about an account that does not exist
    assert moodle_client.calls["core_user_create_users"] == 1 + 4
    mails = [m["to"] for m in moodle_sandbox.outbox]
    phantom_mails = len(mails) - len(created)
    assert set(mails) == {"ana@corp.example", "bo@corp.example", "cy@corp.example"}
    assert phantom_mails == 2
    assert [m["to"] for m in moodle_sandbox.outbox if m["phantom"]] == ["ana@corp.example", "bo@corp.example"]


# --- concurrency --------------------------------------------------------------------------------------------


@pytest.mark.race
def test_overlapping_batches_of_many_orders_create_each_account_once(moodle_sandbox, store):
    # Given 8 orders, each with a batch of 10 people drawn from 20 shared emails and 5 shared names
    moodle_sandbox.set_latency(5)
    emails = [f"shared{i:02d}@corp.example" for i in range(20)]

    def order(n: int) -> BatchResolution:
        client = MoodleClient(moodle_sandbox.url, moodle_sandbox.token)
        picks = [emails[(n * 3 + j) % 20] for j in range(10)]
        people = [AccountRequest(f"learner-{j:04d}", person("Sam", f"Same{j % 5}", e)) for j, e in enumerate(picks)]
        for attempt in range(40):  # the workflow's Retry, with backoff, for emails another order is creating
            batch = resolve(client, store, people, order_id=f"SHOP-{n}")
            if not batch.waiting:
                return batch
            people = [p for p in people if p.claimant in batch.waiting]
            time.sleep(0.01 * min(attempt + 1, 10))
        raise AssertionError("still waiting")

    # When they run at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(order, range(8)))
    # Then every email has exactly one account, each with its own username, and one mail about it (a batch that
    # lost a username race has also mailed its rows before the bad one, as Moodle does: phantom, not counted here)
    users = [u for u in moodle_sandbox.state.users() if u["email"] in emails]
    assert sorted(u["email"] for u in users) == emails
    assert len({u["username"] for u in users}) == 20
    assert sorted(m["to"] for m in moodle_sandbox.outbox if not m["phantom"]) == emails
    assert all(store.get_account_claim(normalise_email(u["email"])).state == "CREATED" for u in users)
