"""The order events of a whole run, in the local runtime: appended to the events file, one per status change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seatflow_local.runtime import LocalRuntime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    with LocalRuntime(events_path=tmp_path / "events.jsonl") as rt:
        yield rt


def run(rt: LocalRuntime, order: dict[str, Any]) -> list[dict[str, Any]]:
    status, answer = rt.submit_order(json.dumps(order))
    assert status == 202, answer
    rt.wait_for_order(order["order_id"], timeout=300)
    return rt.events(order["order_id"])


def test_a_run_with_an_ambiguous_email_tells_accepted_needs_review_and_partially_completed(runtime, sample_order):
    # Given the sample order, one of whose learners has an email two Moodle accounts share
    sample_order["participants"]["learners"][1]["email"] = "dup@example.com"
    # When it runs end to end
    events = run(runtime, sample_order)
    # Then the events file tells the order's story, one event per change
    assert [e["detail-type"] for e in events] == [
        "Order Accepted",
        "Participant Needs Review",
        "Order Partially Completed",
    ]
    review = events[1]["detail"]
    assert (review["participant_key"], review["reason_code"]) == ("learner-0002", "ambiguous_email")
    assert review["email"] == "d***@e***.com"
    finished = events[2]["detail"]
    counts = finished["counts"]
    assert (finished["status"], counts["enrolled"], counts["needs_review"]) == ("PARTIAL", 10, 1)
    # and the file is the only place they went: every line belongs to an event of this run
    lines = runtime.events_path.read_text().splitlines()
    assert len(lines) == 3


def test_an_order_for_an_unknown_course_tells_accepted_then_failed(runtime, sample_order):
    # Given an order for a course Moodle does not have
    sample_order["product"]["params"] = "coursename=NOPE&supervisor=teacher"
    # When it runs
    events = run(runtime, sample_order)
    # Then the shop hears that it was accepted, then that it failed, and why
    assert [e["detail-type"] for e in events] == ["Order Accepted", "Order Failed"]
    assert "NOPE" in events[1]["detail"]["failure"]["reason"]
    assert events[1]["detail"]["status"] == "FAILED"
