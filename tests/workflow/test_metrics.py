"""The metrics the template's alarms and dashboard read, as an order's run emits them: its outcome once
(`OrdersFinished` by `status`), and Moodle's answer time by web-service function (`MoodleCallLatency`)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from seatflow_local.runtime import LocalRuntime


@pytest.fixture
def published(runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Metrics on, as on Lambda (the local runtime turns them off); a reader of the EMF documents printed since."""
    from seatflow.moodle.latency import call_latencies

    decoder = json.JSONDecoder()
    call_latencies.publish()  # still disabled: forgets the times of calls made outside any invocation
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()

    def documents(name: str) -> list[dict[str, Any]]:
        # Batches run in threads here (in separate Lambdas on AWS): two prints may share a line.
        found: list[dict[str, Any]] = []
        for line in capsys.readouterr().out.splitlines():
            position = 0
            while line.startswith('{"_aws"', position):
                document, position = decoder.raw_decode(line, position)
                found.append(document)
        return [d for d in found if name in d]

    return documents


def run(rt: LocalRuntime, order: dict[str, Any]) -> None:
    assert rt.submit_order(json.dumps(order))[0] == 202
    rt.wait_for_order(order["order_id"], timeout=300)


def test_a_completed_order_is_counted_once_with_its_status(runtime, sample_order, published):
    # When the sample order is fulfilled
    run(runtime, sample_order)
    # Then one OrdersFinished is published, COMPLETED, with the service dimension the alarm reads
    [document] = published("OrdersFinished")
    assert (document["status"], document["service"], document["OrdersFinished"]) == ("COMPLETED", "seatflow", [1.0])


def test_an_order_that_could_not_be_prepared_is_counted_failed(runtime, sample_order, published):
    # Given a product naming a course that does not exist
    sample_order["product"]["params"] = "coursename=NOPE"
    # When the order runs and RecordOrderFailure records it
    run(runtime, sample_order)
    # Then it is counted once, FAILED
    assert [(d["status"], d["OrdersFinished"]) for d in published("OrdersFinished")] == [("FAILED", [1.0])]


def test_every_moodle_call_has_its_latency_published_under_its_web_service_function(runtime, sample_order, published):
    # When the sample order is fulfilled
    run(runtime, sample_order)
    documents = published("MoodleCallLatency")
    # Then each call Moodle answered has one latency, under its function, in documents of 100 values at most
    latencies: Counter[str] = Counter()
    for document in documents:
        assert len(document["MoodleCallLatency"]) <= 100
        assert document["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
            {"Name": "MoodleCallLatency", "Unit": "Milliseconds"}
        ]
        latencies[document["wsfunction"]] += len(document["MoodleCallLatency"])
    answered = {name: runtime.sandbox.state.call_count(name) for name in latencies}
    assert latencies == answered
    assert sum(latencies.values()) == runtime.sandbox.state.call_count() > 11
