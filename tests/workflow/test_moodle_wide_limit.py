"""One Moodle-wide limit (docs/decisions/0007): however many orders run, EnrolParticipants runs at most
MoodleMaxConcurrency invocations at once, each with one Moodle call in flight. Measured where it matters: at Moodle."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from seatflow_local.runtime import LocalRuntime

EVENTS = Path(__file__).resolve().parents[2] / "events"
LIMIT = 2
# The steps outside the limit (decision 0007): a few Moodle calls each, at an order's start and end.
OUTSIDE_THE_LIMIT = {"PrepareSessionFunction", "FinalizeSessionFunction"}


def orders_of_other_people(count: int) -> list[dict[str, Any]]:
    """The sample order `count` times, each with its own id, operator and participants."""
    sample = json.loads((EVENTS / "order_spocm1.json").read_text(encoding="utf-8"))
    orders = []
    for n in range(count):
        order = copy.deepcopy(sample)
        order["order_id"] = f"{sample['order_id']}-{n}"
        for person in [order["operator"], *order["participants"]["learners"], *order["participants"]["tutors"]]:
            person["email"] = f"o{n}.{person['email']}"
        orders.append(order)
    return orders


def test_three_concurrent_orders_never_have_more_enrolment_calls_at_moodle_than_the_limit():
    # Given a Moodle-wide limit of 2, a Map that would run 3 batches of each order at once, and a Moodle
    # that takes 20 ms a call
    orders = orders_of_other_people(3)
    with LocalRuntime(max_concurrency=3, moodle_max_concurrency=LIMIT, sandbox_latency_ms=20) as rt:
        # When three orders are posted one after the other and run at the same time
        for order in orders:
            status, answer = rt.submit_order(json.dumps(order))
            assert status == 202, answer
        executions = [rt.wait_for_order(order["order_id"], timeout=600)["status"] for order in orders]
        documents = [rt.get_order(order["order_id"])[1] for order in orders]
        assert rt.lambdas is not None
        outside = [span for span in rt.lambdas.spans if span.function in OUTSIDE_THE_LIMIT]
        gauge = rt.sandbox.calls_in_flight

        def only_enrolment_running(moment: float) -> bool:
            # A call's span at Moodle lies within its invocation's: with neither step running, every call in
            # flight is an enrolment call.
            return not any(span.started <= moment <= span.ended for span in outside)

        enrolment_peak = gauge.peak_in_flight(counted_at=only_enrolment_running)
        throttles = rt.lambdas.throttles["EnrolParticipantsFunction"]

    # Then the batches beyond the limit were refused by "Lambda" and waited, Moodle never had more than 2
    # enrolment calls at once (and did have 2), and every order completed with every participant enrolled
    assert throttles > 0
    assert enrolment_peak == LIMIT
    assert executions == ["SUCCEEDED"] * 3
    assert [d["status"] for d in documents] == ["COMPLETED"] * 3
    assert {p["status"] for d in documents for p in d["participants"]} == {"ENROLLED"}
