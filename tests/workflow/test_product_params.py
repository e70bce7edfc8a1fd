"""The seed's other product parameters, in a whole run against the sandbox: asserted on Moodle's state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from seatflow_local.runtime import LocalRuntime

EVENTS = Path(__file__).resolve().parents[2] / "events"
SPOCM1, TEACHER = 2, 4
DAY = 86400
START = 1767225600


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    with LocalRuntime(events_path=tmp_path / "events.jsonl") as rt:
        yield rt


def test_a_duration_and_autoenrolsupervisor_0_enrol_for_that_long_without_the_operator(runtime):
    # Given the sample order for a product of 20 days whose operator is not to be enrolled
    order = json.loads((EVENTS / "order_spocm1.json").read_text(encoding="utf-8"))
    order["product"]["params"] = f"coursename=SPOCM1&starttime={START}&duration=20&autoenrolsupervisor=0"
    # When it is fulfilled
    assert runtime.submit_order(json.dumps(order))[0] == 202
    runtime.wait_for_order(order["order_id"], timeout=300)
    _, document = runtime.get_order(order["order_id"])
    # Then every participant is enrolled for 20 days from the start
    assert document["status"] == "COMPLETED"
    state = runtime.sandbox.state
    enrolments = {e["user_id"]: e for e in state.enrolments(SPOCM1)}
    for participant in document["participants"]:
        enrolment = enrolments[participant["moodle_user_id"]]
        assert (enrolment["timestart"], enrolment["timeend"]) == (START, START + 20 * DAY)
    # and the operator has an account but is neither enrolled in the course nor a member of the order's group
    operator_id = document["operator"]["moodle_user_id"]
    assert operator_id is not None
    assert operator_id not in enrolments
    assert operator_id not in set(state.group_members(document["group"]["id"]))
    assert len(state.group_members(document["group"]["id"])) == len(document["participants"])
