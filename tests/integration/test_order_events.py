"""Order events: published to EventBridge (moto, a rule delivering to SQS) or, locally, to a JSON-lines file;
never failing the work they report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from seatflow.lifecycle.events import order_event, order_events
from seatflow.models.order import OrderItem

from tests.fixtures.aws import REGION, AwsWorld, load_event, sign_event

ORDER_ID = "SHOP-2026-0001"


def an_order(**changes: Any) -> OrderItem:
    return OrderItem.model_validate(
        {
            "order_id": ORDER_ID,
            "status": "RUNNING",
            "body_sha256": "0" * 64,
            "operator": {"firstname": "Claire", "lastname": "Bernard", "email": "claire@acme.example"},
            "product": {"code": "SPOC", "params": "coursename=SPOCM1", "parsed": {"coursename": "SPOCM1"}},
            "seats": 2,
            "counts": {"learners": 2, "tutors": 0, "participants": 2},
            "received_at": 1767225600,
            **changes,
        }
    )


@pytest.fixture
def bus_queue(aws: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An event bus whose every `seatflow` event lands in an SQS queue; EVENT_BUS_NAME names it."""
    from seatflow.config import get_settings

    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name="seatflow-orders")
    queue_url = sqs.create_queue(QueueName="order-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName="seatflow-orders", EventPattern=json.dumps({"source": ["seatflow"]}))
    events.put_targets(Rule="all", EventBusName="seatflow-orders", Targets=[{"Id": "queue", "Arn": queue_arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", "seatflow-orders")
    get_settings.cache_clear()
    yield queue_url
    get_settings.cache_clear()


def delivered(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch]
        )


def test_a_status_change_reaches_the_bus_with_the_order_id_revision_status_and_counts(bus_queue: str) -> None:
    # Given an order that just completed
    order = an_order(execution_arn=f"arn:aws:states:{REGION}:123456789012:execution:sm:{ORDER_ID}")
    # When its event is published
    order_event("Order Completed", order, status="COMPLETED", counts={"participants": 2, "enrolled": 2})
    # Then one event of source seatflow, detail type "Order Completed", carries the order's id, revision 1,
    # the status given and the counts
    [event] = delivered(bus_queue)
    assert (event["source"], event["detail-type"]) == ("seatflow", "Order Completed")
    detail = event["detail"]
    assert (detail["order_id"], detail["revision"], detail["status"]) == (ORDER_ID, 1, "COMPLETED")
    assert detail["counts"] == {"participants": 2, "enrolled": 2}
    assert len(detail["event_id"]) == 32


def test_emails_in_an_event_are_masked(bus_queue: str) -> None:
    # Given a detail naming a participant's email, also inside a reason
    detail = {"email": "jean.dupont@acme.example", "reason": "jean.dupont@acme.example matches 2 accounts"}
    # When the event is published
    order_event("Participant Needs Review", an_order(), participant_key="learner-0001", **detail)
    # Then neither the address nor its local part travels
    [event] = delivered(bus_queue)
    text = json.dumps(event)
    assert "jean.dupont" not in text
    assert event["detail"]["email"] == "j***@a***.example"


def test_the_same_change_published_twice_carries_the_same_event_id(bus_queue: str) -> None:
    # Given one change of one order, published twice (a retried Lambda), and another participant's event
    order_event("Participant Needs Review", an_order(), participant_key="learner-0001")
    order_event("Participant Needs Review", an_order(), participant_key="learner-0001")
    order_event("Participant Needs Review", an_order(), participant_key="learner-0002")
    # Then the shop can drop the duplicate by event_id, and tell the other one apart
    ids = [event["detail"]["event_id"] for event in delivered(bus_queue)]
    assert len(ids) == 3
    assert len(set(ids)) == 2


def test_events_beyond_the_put_events_limit_are_all_published(bus_queue: str) -> None:
    # Given 23 participants left needing review by one batch (PutEvents takes at most 10 entries)
    details = [{"participant_key": f"learner-{n:04d}"} for n in range(1, 24)]
    # When their events are published together
    order_events("Participant Needs Review", an_order(), details)
    # Then each participant has its own event
    keys = sorted(event["detail"]["participant_key"] for event in delivered(bus_queue))
    assert keys == [f"learner-{n:04d}" for n in range(1, 24)]


def test_a_failed_publish_is_counted_and_never_raised(aws: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from seatflow.config import get_settings
    from seatflow.observability import metrics

    # Given a bus that does not exist
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    get_settings.cache_clear()
    metrics.clear_metrics()
    # When two events are published, Then the caller carries on, and both are counted as not published
    order_events("Participant Needs Review", an_order(), [{"participant_key": "learner-0001"}, {}])
    assert metrics.metric_set["EventsNotPublished"]["Value"] == [2.0]
    metrics.clear_metrics()
    get_settings.cache_clear()


def test_locally_events_are_appended_to_the_events_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws_env: None
) -> None:
    from seatflow.config import get_settings

    # Given the local runtime's setting: events go to a file
    events_file = tmp_path / "events.jsonl"
    monkeypatch.setenv("SEATFLOW_EVENTS_FILE", str(events_file))
    monkeypatch.setenv("EVENT_BUS_NAME", "seatflow-local-OrderEventBus")
    get_settings.cache_clear()
    # When two events are published
    order_event("Order Accepted", an_order())
    order_event("Order Failed", an_order(status="FAILED"), failure={"reason": "course 'X' does not exist"})
    get_settings.cache_clear()
    # Then the file holds one line per event, as EventBridge would deliver it
    lines = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [line["detail-type"] for line in lines] == ["Order Accepted", "Order Failed"]
    assert {line["source"] for line in lines} == {"seatflow"}
    assert lines[1]["detail"]["failure"] == {"reason": "course 'X' does not exist"}


def test_an_accepted_order_publishes_order_accepted(aws: AwsWorld, bus_queue: str, call_api: Any) -> None:
    # Given the signed sample order
    # When the shop posts it, and posts it again
    assert call_api(sign_event(load_event("api_post_order.json"))).status == 202
    assert call_api(sign_event(load_event("api_post_order.json"))).status == 202
    # Then the bus got one "Order Accepted", RUNNING, with the order's counts and no email
    [event] = delivered(bus_queue)
    assert event["detail-type"] == "Order Accepted"
    assert (event["detail"]["order_id"], event["detail"]["status"]) == (ORDER_ID, "RUNNING")
    assert event["detail"]["counts"]["participants"] >= 1
    assert "@" not in json.dumps(event)


def test_an_order_the_sweeper_starts_publishes_order_accepted_once(
    aws: AwsWorld, bus_queue: str, call_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seatflow.config import get_settings

    from tests.integration.test_start_unstarted_orders import recorded_ago, sweep

    sweeper = _load_sweeper()
    # Given an order recorded while Step Functions refused its start (the API answered 503: no event yet)
    monkeypatch.setenv("STATE_MACHINE_ARN", aws.state_machine_arn + "-gone")
    get_settings.cache_clear()
    assert call_api(sign_event(load_event("api_post_order.json"))).status == 503
    monkeypatch.setenv("STATE_MACHINE_ARN", aws.state_machine_arn)
    get_settings.cache_clear()
    assert delivered(bus_queue) == []
    # When the sweeper starts it, and runs again
    recorded_ago(aws, 120)
    assert sweep(sweeper)["started"] == [ORDER_ID]
    sweep(sweeper)
    # Then the shop hears once that the order was accepted and runs
    [event] = delivered(bus_queue)
    assert (event["detail-type"], event["detail"]["status"]) == ("Order Accepted", "RUNNING")


def _load_sweeper() -> Any:
    import importlib.util

    from tests.fixtures.aws import ROOT

    path = ROOT / "functions" / "start_unstarted_orders" / "app.py"
    spec = importlib.util.spec_from_file_location("seatflow_start_unstarted_orders_app_events", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
