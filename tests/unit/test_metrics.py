"""Metrics with dimensions of their own: one EMF document per metric and dimension value, 100 values at most,
in the namespace and with the service dimension the template's alarms and dashboard read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from seatflow.moodle.latency import CallLatencies
from seatflow.observability import publish_metric_alone


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Metrics on, as on Lambda; returns a reader of the EMF documents printed since."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()

    def documents() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]

    return documents


def test_a_metric_alone_carries_its_dimension_the_service_and_the_namespace(published: Any) -> None:
    # When an order's outcome is counted
    publish_metric_alone("OrdersFinished", MetricUnit.Count, [1], status="PARTIAL")
    # Then one document holds it, with the status and service dimensions, in the Seatflow namespace
    [document] = published()
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Seatflow"
    assert sorted(directive["Dimensions"][0]) == ["service", "status"]
    assert directive["Metrics"] == [{"Name": "OrdersFinished", "Unit": "Count"}]
    assert (document["status"], document["service"], document["OrdersFinished"]) == ("PARTIAL", "seatflow", [1.0])


def test_many_values_are_split_into_documents_of_at_most_100(published: Any) -> None:
    # When 250 latencies of one function are published
    publish_metric_alone(
        "MoodleCallLatency", MetricUnit.Milliseconds, list(range(250)), wsfunction="core_user_get_users"
    )
    # Then they fill three documents, none above EMF's 100 values, none lost
    sizes = [len(document["MoodleCallLatency"]) for document in published()]
    assert sizes == [100, 100, 50]


def test_nothing_is_printed_when_metrics_are_disabled(published: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given metrics disabled, as the local runtime and the tests run
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    # When a metric is published
    publish_metric_alone("OrdersFinished", MetricUnit.Count, [1], status="FAILED")
    # Then the terminal (and `seatflow run --json`) gets nothing
    assert published() == []


def test_call_latencies_are_published_once_per_function_when_the_invocation_ends(published: Any) -> None:
    # Given an invocation's Moodle calls: 3 lookups and 1 creation
    latencies = CallLatencies()
    for milliseconds in (12, 15, 30):
        latencies.record("core_user_get_users", milliseconds)
    latencies.record("core_user_create_users", 80)
    assert published() == []
    # When it ends
    latencies.publish()
    latencies.publish()
    # Then each function's times are in one document of their own, published once
    assert {d["wsfunction"]: d["MoodleCallLatency"] for d in published()} == {
        "core_user_create_users": [80.0],
        "core_user_get_users": [12.0, 15.0, 30.0],
    }


def test_a_function_with_100_call_times_is_published_at_once(published: Any) -> None:
    # Given a long invocation calling one function again and again
    latencies = CallLatencies()
    for milliseconds in range(101):
        latencies.record("enrol_manual_enrol_users", milliseconds)
    # Then its first 100 times are published as they fill a document; the 101st waits for the end
    [document] = published()
    assert document["MoodleCallLatency"] == [float(ms) for ms in range(100)]
    latencies.publish()
    assert [d["MoodleCallLatency"] for d in published()] == [[100.0]]
