"""A Map item is a batch of participants: what one batch does when a participant cannot be done yet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from seatflow.accounts import AccountCreationInProgress
from seatflow.fulfilment import services
from seatflow.models import OrderBody
from seatflow.store import ClaimRequest

from seatflow_local.runtime import LocalRuntime

EVENTS = Path(__file__).resolve().parents[2] / "events"
BATCH = ["learner-0001", "learner-0002", "learner-0003"]


@pytest.fixture
def prepared_order(runtime: LocalRuntime) -> OrderBody:
    """The sample order recorded and its session prepared, without the workflow running."""
    order = OrderBody.model_validate(json.loads((EVENTS / "order_spocm1.json").read_text(encoding="utf-8")))
    services().store.record_order(order, order.body_sha256())
    runtime.lambdas.invoke_json("PrepareSessionFunction", {"order_id": order.order_id})
    return order


def statuses(order_id: str, keys: list[str]) -> list[str]:
    _, participants = services().store.get_order_and_participants(order_id, keys)
    return [p.status for p in participants]


def claim_elsewhere(email: str) -> None:
    """Another order is creating the account of this email right now."""
    services().store.claim_accounts([ClaimRequest(email, "OTHER-ORDER", "learner-0009", "someone.else")])


def enrol_batch(runtime: LocalRuntime, order_id: str, keys: list[str]) -> Any:
    return runtime.lambdas.invoke_json("EnrolParticipantsFunction", {"order_id": order_id, "participant_keys": keys})


def test_a_participant_that_must_wait_does_not_hold_the_rest_of_its_batch_back(runtime, prepared_order):
    # Given another order is creating the account of the batch's second participant right now
    email = prepared_order.participants.learners[1].email
    claim_elsewhere(email)

    # When the batch runs
    with pytest.raises(AccountCreationInProgress):
        enrol_batch(runtime, prepared_order.order_id, BATCH)

    # Then the others are enrolled, and the waiting one is still pending for the state's Retry
    assert statuses(prepared_order.order_id, BATCH) == ["ENROLLED", "PENDING", "ENROLLED"]


def test_a_retried_batch_does_only_the_participants_left_pending(runtime, prepared_order):
    # Given a batch that stopped on a participant whose email another order was creating
    store = services().store
    email = prepared_order.participants.learners[1].email
    claim_elsewhere(email)
    with pytest.raises(AccountCreationInProgress):
        enrol_batch(runtime, prepared_order.order_id, BATCH)
    users_before = len(runtime.sandbox.state.users())
    lookups_before = runtime.sandbox.state.call_count("core_user_get_users")

    # When the other order gives the email up and the state's Retry runs the batch again
    store.release_account_claims([email], "OTHER-ORDER")
    done = enrol_batch(runtime, prepared_order.order_id, BATCH)

    # Then only the pending participant is looked up and created; the batch reports the two already enrolled too
    assert runtime.sandbox.state.call_count("core_user_get_users") - lookups_before == 1
    assert len(runtime.sandbox.state.users()) == users_before + 1
    assert statuses(prepared_order.order_id, BATCH) == ["ENROLLED", "ENROLLED", "ENROLLED"]
    assert (done["enrolled"], done["failed"]) == (3, 0)


def test_a_batch_run_again_is_counted_as_a_retry_of_its_order(runtime, prepared_order):
    # Given one batch run twice (a state's Retry) and another run once
    enrol_batch(runtime, prepared_order.order_id, BATCH[:1])
    enrol_batch(runtime, prepared_order.order_id, BATCH[:1])
    enrol_batch(runtime, prepared_order.order_id, BATCH[1:])
    # Then the runtime counts one retry among the order's batches (what `seatflow run` shows in its timeline)
    assert runtime.lambdas.retries(prepared_order.order_id, batches_only=True) == 1
    assert runtime.lambdas.retries("ANOTHER-ORDER") == 0


def test_a_batch_whose_retries_are_spent_fails_only_its_pending_participants(runtime, prepared_order):
    # Given a batch that left its second participant pending
    claim_elsewhere(prepared_order.participants.learners[1].email)
    with pytest.raises(AccountCreationInProgress):
        enrol_batch(runtime, prepared_order.order_id, BATCH)

    # When its Catch records the failure
    cause = json.dumps({"errorType": "AccountCreationInProgress", "errorMessage": "being created by OTHER-ORDER"})
    answer = runtime.lambdas.invoke_json(
        "RecordOrderFailureFunction",
        {
            "order_id": prepared_order.order_id,
            "participant_keys": BATCH,
            "error": {"Error": "AccountCreationInProgress", "Cause": cause},
        },
    )

    # Then the pending participant is FAILED with the cause, and the enrolled ones keep their outcome
    assert answer["failed"] == 1
    assert statuses(prepared_order.order_id, BATCH) == ["ENROLLED", "FAILED", "ENROLLED"]
    _, (second,) = services().store.get_order_and_participants(prepared_order.order_id, ["learner-0002"])
    assert second.reason is not None and "being created by OTHER-ORDER" in second.reason
