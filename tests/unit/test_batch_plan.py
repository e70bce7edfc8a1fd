"""How the participants are split into the Map's items."""

from __future__ import annotations

from seatflow.fulfilment import BATCHES_PER_SLOT, plan_batches


def keys(n: int) -> list[str]:
    return [f"learner-{i:04d}" for i in range(1, n + 1)]


def test_every_participant_is_in_exactly_one_batch() -> None:
    batches = plan_batches(keys(1003), concurrency=10, max_per_batch=25)
    flat = [key for batch in batches for key in batch]
    assert sorted(flat) == keys(1003)
    assert len(flat) == len(set(flat))


def test_a_small_order_is_shared_out_so_that_every_slot_works() -> None:
    batches = plan_batches(keys(11), concurrency=10, max_per_batch=25)
    assert len(batches) == 6 and {len(batch) for batch in batches} == {1, 2}


def test_a_large_order_fills_each_slot_with_batches_no_larger_than_the_cap() -> None:
    batches = plan_batches(keys(1000), concurrency=10, max_per_batch=25)
    assert max(len(batch) for batch in batches) == 25
    assert len(batches) >= 10 * BATCHES_PER_SLOT


def test_the_cap_bounds_the_batch_of_a_very_large_order() -> None:
    batches = plan_batches(keys(5000), concurrency=10, max_per_batch=25)
    assert len(batches) == 200 and {len(batch) for batch in batches} == {25}


def test_batches_are_striped_so_the_tail_of_the_order_is_spread() -> None:
    # The last participants (tutors, or a run of new accounts) land in different batches.
    batches = plan_batches(keys(100), concurrency=5, max_per_batch=25)
    last_five = keys(100)[-5:]
    holders = {index for index, batch in enumerate(batches) for key in batch if key in last_five}
    assert len(holders) == 5


def test_no_participant_means_no_batch() -> None:
    assert plan_batches([], concurrency=10, max_per_batch=25) == []
