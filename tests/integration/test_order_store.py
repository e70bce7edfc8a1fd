"""OrderStore on the single table (moto): what the workflow relies on."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from seatflow.models.order import AccountClaim, OrderBody, normalise_email
from seatflow.store import CLAIM_LEASE_SECONDS, ClaimRequest, ItemNotFound, OrderStore

from tests.fixtures.aws import AwsWorld

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events" / "order_spocm1.json").read_text())
ORDER_ID = SAMPLE["order_id"]


def sample_order(**changes: Any) -> OrderBody:
    return OrderBody.model_validate({**SAMPLE, **changes})


def big_order(n: int) -> OrderBody:
    learners = [{"firstname": "Léa", "lastname": f"Nom{i}", "email": f"lea{i}@example.com"} for i in range(n)]
    return sample_order(order_id="SHOP-BIG", seats=n, participants={"learners": learners, "tutors": []})


def test_a_new_order_is_created_then_the_same_body_is_same_and_another_is_conflict(store: OrderStore) -> None:
    order = sample_order()
    assert store.record_order(order, order.body_sha256()).outcome == "created"
    assert store.record_order(order, order.body_sha256()).outcome == "same"
    other = sample_order(seats=11, operator={**SAMPLE["operator"], "city": "Paris"})
    result = store.record_order(other, other.body_sha256())
    assert result.outcome == "conflict" and result.order.body_sha256 == order.body_sha256()


def test_a_5000_participant_order_is_written_in_batches_and_listed_across_pages(store: OrderStore) -> None:
    # Given the largest order allowed
    order = big_order(5000)
    # When it is recorded
    started = time.monotonic()
    store.record_order(order, order.body_sha256())
    # Then every participant comes back, in key order, through paginated queries
    participants = store.list_participants("SHOP-BIG")
    assert len(participants) == 5000
    assert participants[0].participant_key == "learner-0001" and participants[-1].participant_key == "learner-5000"
    assert time.monotonic() - started < 60


def test_a_replay_completes_participants_a_crash_left_unwritten(aws: AwsWorld, store: OrderStore) -> None:
    # Given an order item written but its participants lost (crash before they were written)
    order = sample_order()
    store.record_order(order, order.body_sha256())
    for p in store.list_participants(ORDER_ID)[5:]:
        aws.dynamodb.delete_item(
            TableName=aws.table_name,
            Key={"PK": {"S": f"ORDER#{ORDER_ID}"}, "SK": {"S": f"PARTICIPANT#{p.participant_key}"}},
        )
    store._update_order(ORDER_ID, {"participants_recorded": False})
    # When the same order is recorded again
    result = store.record_order(order, order.body_sha256())
    # Then the participants are complete
    assert result.outcome == "same" and result.order.participants_recorded
    assert len(store.list_participants(ORDER_ID)) == 11


def test_mark_running_never_moves_a_finished_order_back(store: OrderStore) -> None:
    order = sample_order()
    store.record_order(order, order.body_sha256())
    store.finish_order(ORDER_ID, status="COMPLETED", counts={"enrolled": 11}, group=None, warnings=None, failure=None)
    store.mark_running(ORDER_ID, "arn:aws:states:eu-west-3:123456789012:execution:m:SHOP-2026-0001")
    order_item = store.get_order(ORDER_ID)
    assert order_item.status == "COMPLETED" and order_item.execution_arn.endswith("SHOP-2026-0001")


def test_save_session_stores_it_and_marks_the_order_running_with_int_numbers(store: OrderStore) -> None:
    order = sample_order()
    store.record_order(order, order.body_sha256())
    store.save_session(ORDER_ID, {"course_id": 42, "timestart": 1767225600, "operator_account": "reused"})
    item = store.get_order(ORDER_ID)
    assert item.status == "RUNNING"
    assert item.session == {"course_id": 42, "timestart": 1767225600, "operator_account": "reused"}
    assert type(item.session["course_id"]) is int


def test_a_batch_of_participants_comes_back_with_its_order_in_key_order(store: OrderStore) -> None:
    # Given a recorded order
    order = sample_order()
    store.record_order(order, order.body_sha256())
    # When a batch of its participants is read, in an order that is not the table's
    keys = ["tutor-0001", "learner-0007", "learner-0002"]
    order_item, participants = store.get_order_and_participants(ORDER_ID, keys)
    # Then they come back in the batch's order, with the order
    assert order_item is not None and order_item.order_id == ORDER_ID
    assert [p.participant_key for p in participants] == keys


def test_a_batch_naming_an_unknown_participant_is_refused(store: OrderStore) -> None:
    order = sample_order()
    store.record_order(order, order.body_sha256())
    with pytest.raises(ItemNotFound, match="learner-0099"):
        store.get_order_and_participants(ORDER_ID, ["learner-0001", "learner-0099"])


def test_the_manifest_keys_are_every_participant_key_in_order(store: OrderStore) -> None:
    order = big_order(1234)
    store.record_order(order, order.body_sha256())
    keys = store.list_participant_keys("SHOP-BIG")
    assert keys == [f"learner-{i:04d}" for i in range(1, 1235)]


def test_an_unknown_participant_is_not_found(store: OrderStore) -> None:
    order = sample_order()
    store.record_order(order, order.body_sha256())
    with pytest.raises(ItemNotFound):
        store.get_participant(ORDER_ID, "learner-0099")
    assert store.get_order("SHOP-NONE") is None


def test_a_participant_outcome_is_saved_with_the_participant(store: OrderStore) -> None:
    order = sample_order()
    store.record_order(order, order.body_sha256())
    participant = store.get_participant(ORDER_ID, "learner-0003")
    store.save_participant_outcome(
        participant, status="FAILED", account=None, moodle_user_id=None, username=None,
        role_shortname="student", role_id=5, attached_to_operator=False, reason="enrol_manual: no instance",
        warnings=["retried 3 times"],
    )  # fmt: skip
    failed = store.get_participant(ORDER_ID, "learner-0003")
    assert (failed.status, failed.reason, failed.role_id) == ("FAILED", "enrol_manual: no instance", 5)
    assert (failed.email, failed.position) == (participant.email, participant.position)
    assert failed.warnings == ["retried 3 times"]


def test_participant_summaries_carry_each_outcome(store: OrderStore) -> None:
    order = sample_order()
    store.record_order(order, order.body_sha256())
    store.save_participant_outcome(
        store.get_participant(ORDER_ID, "tutor-0001"), status="ENROLLED", account="created", moodle_user_id=77,
        username="helene.oconnor", role_shortname="teacher", role_id=4, attached_to_operator=True,
    )  # fmt: skip
    summaries = {s.participant_key: s for s in store.list_participant_summaries(ORDER_ID)}
    assert len(summaries) == 11
    tutor = summaries["tutor-0001"]
    assert (tutor.role, tutor.status, tutor.account, tutor.moodle_user_id) == ("tutor", "ENROLLED", "created", 77)
    assert summaries["learner-0001"].status == "PENDING" and summaries["learner-0001"].moodle_user_id is None


def test_failing_pending_participants_keeps_outcomes_already_saved(store: OrderStore) -> None:
    # Given a batch whose first participant is already enrolled
    order = sample_order()
    store.record_order(order, order.body_sha256())
    store.save_participant_outcome(
        store.get_participant(ORDER_ID, "learner-0001"), status="ENROLLED", account="reused", moodle_user_id=42,
        username="anna", role_shortname="student", role_id=5, attached_to_operator=False,
    )  # fmt: skip
    # When the batch's retries are spent
    failed = store.fail_pending_participants(ORDER_ID, ["learner-0001", "learner-0002"], "gave up after retries")
    # Then only the pending participant is FAILED
    assert failed == ["learner-0002"]
    assert store.get_participant(ORDER_ID, "learner-0001").status == "ENROLLED"
    second = store.get_participant(ORDER_ID, "learner-0002")
    assert (second.status, second.reason) == ("FAILED", "gave up after retries")


def claim(store: OrderStore, email: str, order_id: str, key: str, now: int | None = None) -> AccountClaim:
    """One email's claim, as a batch of one, asking for a username made of the order's letter."""
    username = "u." + order_id[-1].lower()
    return store.claim_accounts([ClaimRequest(email, order_id, key, username)], now=now)[normalise_email(email)]


def test_the_first_claim_on_an_email_owns_it_and_a_second_order_sees_it(store: OrderStore) -> None:
    # Given order A claims the account creation for an email
    mine = claim(store, "Noe@Example.com", "SHOP-A", "learner-0001")
    # When order B wants to create the same account
    theirs = claim(store, "noe@example.com", "SHOP-B", "learner-0004")
    # Then A owns it and B is shown A's claim
    assert mine.owned and mine.state == "CREATING"
    assert not theirs.owned and theirs.order_id == "SHOP-A" and theirs.participant_key == "learner-0001"


def test_claiming_again_for_the_same_participant_is_still_owned(store: OrderStore) -> None:
    claim(store, "noe@example.com", "SHOP-A", "learner-0001")
    assert claim(store, "noe@example.com", "SHOP-A", "learner-0001").owned


def test_a_completed_claim_tells_others_the_created_account(store: OrderStore) -> None:
    mine = claim(store, "noe@example.com", "SHOP-A", "learner-0001")
    store.complete_account_claims([(mine, 314, "noe.roux")])
    theirs = claim(store, "noe@example.com", "SHOP-B", "learner-0002")
    assert (theirs.owned, theirs.state, theirs.moodle_user_id, theirs.username) == (
        False,
        "CREATED",
        314,
        "noe.roux",
    )


def test_a_claim_is_released_only_by_its_order_while_creating(store: OrderStore) -> None:
    claim(store, "noe@example.com", "SHOP-A", "learner-0001")
    store.release_account_claims(["noe@example.com"], "SHOP-B")
    assert store.get_account_claim("noe@example.com") is not None
    store.release_account_claims(["noe@example.com"], "SHOP-A")
    assert store.get_account_claim("noe@example.com") is None
    done = claim(store, "noe@example.com", "SHOP-C", "learner-0001")
    store.complete_account_claims([(done, 315, "noe.roux")])
    store.release_account_claims(["noe@example.com"], "SHOP-C")
    assert store.get_account_claim("noe@example.com").state == "CREATED"


def test_the_claims_of_a_batch_come_back_by_normalised_email(store: OrderStore) -> None:
    claim(store, "Noe@Example.com", "SHOP-A", "learner-0001")
    claims = store.get_account_claims(["noe@example.com", "nobody@example.com"])
    assert list(claims) == ["noe@example.com"] and claims["noe@example.com"].order_id == "SHOP-A"


def test_a_claim_left_creating_past_its_lease_is_taken_over(store: OrderStore) -> None:
    # Given order A claimed an email and its batch gave up, leaving the claim CREATING
    claim(store, "noe@example.com", "SHOP-A", "learner-0001", now=1_000_000)
    # When order B wants the email before the lease ends, and again after it
    early = claim(store, "noe@example.com", "SHOP-B", "learner-0002", now=1_000_000 + CLAIM_LEASE_SECONDS - 1)
    late = claim(store, "noe@example.com", "SHOP-B", "learner-0002", now=1_000_000 + CLAIM_LEASE_SECONDS + 1)
    # Then B waits at first, then owns the claim: no email is blocked for good
    assert not early.owned and early.order_id == "SHOP-A"
    assert late.owned and late.order_id == "SHOP-B" and late.username == "u.b"


def test_a_created_claim_is_never_taken_over_however_old(store: OrderStore) -> None:
    mine = claim(store, "noe@example.com", "SHOP-A", "learner-0001", now=1_000_000)
    store.complete_account_claims([(mine, 314, "noe.roux")])
    theirs = claim(store, "noe@example.com", "SHOP-B", "learner-0002", now=2_000_000)
    assert not theirs.owned and (theirs.state, theirs.moodle_user_id) == ("CREATED", 314)


def test_a_batch_of_claims_is_taken_at_once_keyed_by_normalised_email(store: OrderStore) -> None:
    # When a batch claims three emails at once, one of them already another order's
    claim(store, "taken@example.com", "SHOP-Z", "learner-0009")
    claims = store.claim_accounts(
        [
            ClaimRequest(f"{name}@example.com", "SHOP-A", f"learner-000{i}", name)
            for i, name in enumerate(["Ana", "bo", "taken"], start=1)
        ]
    )
    # Then each comes back under its normalised email, owned unless another order holds it
    assert {email: c.owned for email, c in claims.items()} == {
        "ana@example.com": True,
        "bo@example.com": True,
        "taken@example.com": False,
    }
    assert claims["ana@example.com"].username == "Ana"


def test_a_recorded_order_waits_among_the_unstarted_until_it_is_marked_running(store: OrderStore) -> None:
    # Given the sample order, recorded
    order = sample_order()
    store.record_order(order, order.body_sha256())
    [waiting] = store.iter_unstarted_orders()
    # When its execution has started
    store.mark_running(ORDER_ID, f"arn:aws:states:eu-west-3:123456789012:execution:sm:{ORDER_ID}")
    # Then it was listed, fully recorded, since it was received, and is no longer
    assert (waiting.order_id, waiting.participants_recorded) == (ORDER_ID, True)
    assert waiting.unstarted_since == store.get_order(ORDER_ID).received_at
    assert list(store.iter_unstarted_orders()) == []


def test_twenty_orders_claiming_one_email_at_once_leave_exactly_one_owner(store: OrderStore) -> None:
    # Given 20 orders whose batches claim the same new email at the same moment (threads, as batches run locally)
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(20)

    def claim_it(n: int) -> AccountClaim:
        barrier.wait()
        return claim(store, "noe@example.com", f"SHOP-{n:02d}", "learner-0001")

    # When they claim it
    with ThreadPoolExecutor(max_workers=20) as pool:
        claims = list(pool.map(claim_it, range(20)))
    # Then exactly one owns it, and every other one is shown that owner's claim
    owners = [c for c in claims if c.owned]
    assert len(owners) == 1
    assert {c.order_id for c in claims} == {owners[0].order_id}
