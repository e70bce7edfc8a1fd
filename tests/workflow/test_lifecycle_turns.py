"""Each change exactly once and in turn: replays change nothing, concurrent changes of one order never run at once,
and a change arriving during a run runs right after it. The real state machine in the local runtime."""

from __future__ import annotations

import threading
from typing import Any

from seatflow_local.runtime import LocalRuntime
from tests.fixtures.lifecycle import SPOCM1, by_email, enrolment, revision, small_order


def moodle_snapshot(rt: LocalRuntime) -> tuple[Any, ...]:
    state = rt.sandbox.state
    groups = state.groups(SPOCM1)
    return (
        state.users(),
        state.enrolments(SPOCM1),
        groups,
        [state.group_members(g["id"]) for g in groups],
        state.role_assignments(),
    )


def work_period(rt: LocalRuntime, name: str) -> tuple[Any, Any]:
    """From the execution's start to its hand-over (FinishChange entered): the span in which its change works."""
    events = rt.history(name)
    handover = next(
        e["timestamp"]
        for e in events
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "FinishChange"
    )
    return events[0]["timestamp"], handover


def one_at_a_time(rt: LocalRuntime, names: list[str]) -> bool:
    periods = [work_period(rt, name) for name in names]
    return all(earlier[1] <= later[0] for earlier, later in zip(periods, periods[1:], strict=False))


def test_replayed_calls_change_nothing(rt, shop):
    # Given an order amended to revision 2, both done
    order = small_order("LIFE-REPLAY", ["l1@acme-training.example"])
    shop.fulfil(order)
    amended = revision(order, 2, learners=["l1@acme-training.example", "l2@acme-training.example"])
    shop.done(shop.amend(amended))
    before, history = moodle_snapshot(rt), shop.report("LIFE-REPLAY")["history"]

    # When the shop sends the order, the amendment and a retry again
    order_again = shop.post(order)
    amendment_again = shop.amend(amended)
    retried = shop.retry("LIFE-REPLAY")

    # Then the same answers come back and nothing runs: Moodle and the history are as they were
    assert order_again[0] == 202
    assert (amendment_again[0], amendment_again[1]["change"]["execution_name"]) == (202, "LIFE-REPLAY--r2")
    assert (retried[0], retried[1]["error"]) == (409, "nothing_to_retry")
    assert moodle_snapshot(rt) == before
    assert shop.report("LIFE-REPLAY")["history"] == history

    # When it cancels, then cancels again with the same reason
    shop.done(shop.cancel("LIFE-REPLAY"))
    cancelled = moodle_snapshot(rt)
    status, answer = shop.cancel("LIFE-REPLAY")

    # Then the second cancellation is the first one, and changes nothing
    assert (status, answer["change"]["execution_name"], answer["status"]) == (202, "LIFE-REPLAY--cancel", "CANCELLED")
    assert moodle_snapshot(rt) == cancelled


def test_concurrent_changes_of_one_order_are_each_accepted_once_and_run_one_at_a_time(rt, shop):
    # Given a fulfilled order
    order = small_order("LIFE-RACE", ["l1@acme-training.example"])
    shop.fulfil(order)
    amended = revision(order, 2, learners=["l1@acme-training.example", "l2@acme-training.example"])

    # When the same amendment (three times) and a cancellation (twice) arrive at the same moment
    answers: list[tuple[str, tuple[int, dict[str, Any]]]] = []
    calls = [("amend", lambda: shop.amend(amended))] * 3 + [("cancel", lambda: shop.cancel("LIFE-RACE"))] * 2
    threads = [threading.Thread(target=lambda k=k, c=c: answers.append((k, c()))) for k, c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then the cancellation is one change; the amendment is one change, or refused if the cancellation came first
    cancels = {a[1]["change"]["execution_name"] for k, a in answers if k == "cancel"}
    assert cancels == {"LIFE-RACE--cancel"}
    accepted = {a[1]["change"]["execution_name"] for k, a in answers if k == "amend" and a[0] == 202}
    refused = {a[1]["error"] for k, a in answers if k == "amend" and a[0] != 202}
    assert accepted | refused in ({"LIFE-RACE--r2"}, {"order_cancelled"})
    # and their executions ran one after the other, in the order of the history
    shop.wait("LIFE-RACE--cancel")
    history = shop.report("LIFE-RACE")["history"]
    names = [c["execution_name"] for c in history]
    assert names in (["LIFE-RACE", "LIFE-RACE--r2", "LIFE-RACE--cancel"], ["LIFE-RACE", "LIFE-RACE--cancel"])
    assert one_at_a_time(rt, names)
    # and in the end nothing the order granted is left
    assert shop.report("LIFE-RACE")["status"] == "CANCELLED"
    assert rt.sandbox.state.enrolments(SPOCM1) == []


def test_a_change_arriving_during_a_run_waits_for_it_then_runs(rt, shop):
    # Given an order just posted, its creation running
    order = small_order("LIFE-DURING", ["l1@acme-training.example", "l2@acme-training.example"])
    status, _ = shop.post(order)
    assert status == 202

    # When revision 2 (l2 replaced by l3) arrives at once
    status, answer = shop.amend(revision(order, 2, learners=["l1@acme-training.example", "l3@acme-training.example"]))

    # Then it is accepted, waits its turn, and runs after the creation ended
    assert (status, answer["change"]["state"]) == (202, "QUEUED")
    shop.wait("LIFE-DURING--r2")
    assert one_at_a_time(rt, ["LIFE-DURING", "LIFE-DURING--r2"])
    # and Moodle holds revision 2: l1 and l3 enrolled, l2 not
    document = shop.report("LIFE-DURING")
    after = by_email(document)
    assert [after[e]["status"] for e in sorted(after)] == ["ENROLLED", "REMOVED", "ENROLLED"]
    assert enrolment(rt, SPOCM1, after["l2@acme-training.example"]["moodle_user_id"]) is None
    assert enrolment(rt, SPOCM1, after["l3@acme-training.example"]["moodle_user_id"]) is not None
    assert [c["outcome"] for c in document["history"]] == ["COMPLETED", "COMPLETED"]
