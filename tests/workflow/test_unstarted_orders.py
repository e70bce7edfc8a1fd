"""An order recorded while Step Functions refused to start it (the API's 503) is started by the sweeper and
fulfilled, though the shop never sends it again. The real state machine, the handlers in-process, the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from seatflow_local.runtime import REGION

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_an_order_whose_start_failed_is_started_by_the_sweeper_and_completes(runtime, monkeypatch):
    # Given the shop posted the sample order while Step Functions refused to start it, and never resends it
    from seatflow.config import get_settings

    body = (EVENTS / "order_spocm1.json").read_text(encoding="utf-8")
    order_id = json.loads(body)["order_id"]
    monkeypatch.setenv("STATE_MACHINE_ARN", runtime.state_machine_arn + "-gone")
    get_settings.cache_clear()
    status, answer = runtime.submit_order(body)
    assert (status, answer["error"]) == (503, "order_recorded_not_started")
    monkeypatch.setenv("STATE_MACHINE_ARN", runtime.state_machine_arn)
    get_settings.cache_clear()
    # and that was two minutes ago
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=runtime.table_name,
        Key={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "ORDER"}},
        UpdateExpression="SET unstarted_since = unstarted_since - :ago",
        ExpressionAttributeValues={":ago": {"N": "120"}},
    )

    # When the sweeper's every-minute schedule fires
    scheduled = json.loads((EVENTS / "scheduled_event.json").read_text(encoding="utf-8"))
    outcome = runtime.lambdas.invoke_json("StartUnstartedOrdersFunction", scheduled)
    execution = runtime.wait_for_order(order_id, timeout=300)
    _, document = runtime.get_order(order_id)

    # Then the order was started under its own id, and fulfilled
    assert outcome["started"] == [order_id]
    assert execution["status"] == "SUCCEEDED"
    assert (document["status"], document["execution_name"]) == ("COMPLETED", order_id)
    assert {p["status"] for p in document["participants"]} == {"ENROLLED"}
