"""`seatflow run`'s timeline: the execution's states in the order they were entered, with durations and retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from seatflow_local.main_job import format_timeline

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float, kind: str, name: str = "") -> dict[str, Any]:
    event: dict[str, Any] = {"timestamp": T0 + timedelta(seconds=seconds), "type": kind}
    if name:
        event["stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"] = {"name": name}
    return event


HISTORY = [
    at(0.0, "ExecutionStarted"),
    at(0.01, "TaskStateEntered", "PrepareSession"),
    at(0.02, "TaskScheduled"),
    at(0.50, "TaskFailed"),
    at(1.50, "TaskScheduled"),
    at(2.00, "TaskFailed"),
    at(3.00, "TaskScheduled"),
    at(3.20, "TaskSucceeded"),
    at(3.25, "TaskStateExited", "PrepareSession"),
    at(3.25, "MapStateEntered", "EnrolParticipants"),
    at(3.30, "MapRunStarted"),
    at(5.00, "MapRunSucceeded"),
    at(5.01, "MapStateExited", "EnrolParticipants"),
    at(5.01, "TaskStateEntered", "FinalizeSession"),
    at(5.02, "TaskScheduled"),
    at(5.40, "TaskStateExited", "FinalizeSession"),
    at(5.40, "SucceedStateEntered", "SessionReady"),
    at(5.41, "ExecutionSucceeded"),
]


def rows(text: str) -> list[str]:
    return text[text.index("how it ended") :].splitlines()[1:]


def test_rows_come_in_the_order_states_were_entered_not_left() -> None:
    # Given a history where PrepareSession is left after the Map run started elsewhere in time
    # When the timeline is drawn
    lines = rows(format_timeline(HISTORY, {"name": "SHOP-1", "status": "SUCCEEDED"}))
    # Then the rows' offsets never go back in time, and each state appears once
    offsets = [float(line.split()[0]) for line in lines]
    assert offsets == sorted(offsets)
    assert [line.split()[2] for line in lines if "exited" in line] == [
        "PrepareSession",
        "EnrolParticipants",
        "FinalizeSession",
    ]


def test_a_task_tried_three_times_shows_two_retries_and_the_map_its_batches_retries() -> None:
    lines = rows(format_timeline(HISTORY, {"name": "SHOP-1", "status": "SUCCEEDED"}, batch_retries=4))
    by_state = {line.split()[2]: line for line in lines if "exited" in line}
    assert by_state["PrepareSession"].endswith("exited, retried 2x")
    assert by_state["EnrolParticipants"].endswith("exited, retried 4x (batches)")
    assert by_state["FinalizeSession"].endswith("exited")
