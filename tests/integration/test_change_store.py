"""The order's turn in DynamoDB (moto): a change is recorded only on the order as it was read, and the turn passes
to the first change queued, once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from seatflow.models.lifecycle import ChangeItem, EnrolmentLedger, Grant
from seatflow.models.order import OrderBody

from tests.fixtures.aws import load_event

ORDER = OrderBody.model_validate(json.loads(load_event("api_post_order.json")["body"]))


def change(seq: int, kind: str = "retried") -> ChangeItem:
    return ChangeItem(
        order_id=ORDER.order_id,
        seq=seq,
        kind=kind,  # type: ignore[arg-type]
        revision=1,
        accepted_at=0,
        execution_name=f"{ORDER.order_id}--retry{seq}",
    )


@pytest.fixture
def recorded(store: Any) -> Any:
    store.record_order(ORDER, ORDER.body_sha256())
    return store


def test_a_change_decided_on_a_stale_read_of_the_order_is_not_recorded(recorded):
    # Given the order as read, then another change accepted meanwhile
    seen = recorded.get_order(ORDER.order_id)
    assert recorded.accept_change(seen, change(2), {"retry_count": 1})
    # When a change decided on the first read is recorded
    accepted = recorded.accept_change(seen, change(2), {"retry_count": 1})
    # Then it is refused, and the order holds the first one only
    assert accepted is False
    assert [c.seq for c in recorded.list_changes(ORDER.order_id)] == [1, 2]


def test_the_turn_passes_to_the_first_change_queued_and_handing_it_again_names_the_same(recorded):
    # Given the creation holding the turn, and two changes queued behind it
    for seq in (2, 3):
        assert recorded.accept_change(recorded.get_order(ORDER.order_id), change(seq), {})
    # When the creation hands the turn over, twice (a retried FinishChange)
    first = recorded.hand_over_turn(ORDER.order_id, 1)
    again = recorded.hand_over_turn(ORDER.order_id, 1)
    # Then change 2 has it, both times
    assert (first.seq, again.seq) == (2, 2)
    assert recorded.get_order(ORDER.order_id).active_change == 2


def test_the_last_change_frees_the_turn_and_the_next_one_takes_it(recorded):
    assert recorded.hand_over_turn(ORDER.order_id, 1) is None
    assert recorded.get_order(ORDER.order_id).active_change is None
    assert recorded.accept_change(recorded.get_order(ORDER.order_id), change(2), {})
    assert recorded.get_order(ORDER.order_id).active_change == 2


def test_two_orders_grants_in_one_ledger_never_overwrite_each_other(store):
    # Given the ledger of user 9 in course 2, opened by order A
    store.open_ledgers([EnrolmentLedger(user_id=9, course_id=2)])
    # When orders A and B set their grants, then A removes its own
    store.set_grants([((9, 2), Grant(order_id="A", holder="learner-0001", roles=[5]))])
    store.set_grants([((9, 2), Grant(order_id="B", holder="learner-0003", roles=[5]))])
    [after] = store.remove_grants([((9, 2), "A/learner-0001")])
    # Then B's grant stands alone; opening the ledger again changes nothing
    assert list(after.grants) == ["B/learner-0003"]
    assert store.open_ledgers([EnrolmentLedger(user_id=9, course_id=2, external=True)])[(9, 2)].external is False
