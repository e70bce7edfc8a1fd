"""StartUnstartedOrders: an order recorded while Step Functions refused to start it is started by the sweeper,
once, whatever the shop does next. The real handler in-process, AWS in moto."""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType
from typing import Any

import pytest

from tests.fixtures.aws import ROOT, AwsWorld, FakeLambdaContext, load_event, sign_event

ORDER_ID = "SHOP-2026-0001"
TWO_MINUTES = 120


@pytest.fixture(scope="module")
def sweeper() -> ModuleType:
    """functions/start_unstarted_orders/app.py, imported by path under a module name of its own."""
    path = ROOT / "functions" / "start_unstarted_orders" / "app.py"
    spec = importlib.util.spec_from_file_location("seatflow_start_unstarted_orders_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sweep(sweeper: ModuleType) -> dict[str, Any]:
    return sweeper.lambda_handler(load_event("scheduled_event.json"), FakeLambdaContext())  # type: ignore[no-any-return]


def post_while_step_functions_refuses(aws: AwsWorld, call_api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shop posts the sample order while StartExecution fails (the 503 path), then Step Functions is back."""
    from seatflow.config import get_settings

    monkeypatch.setenv("STATE_MACHINE_ARN", aws.state_machine_arn + "-gone")
    get_settings.cache_clear()
    assert call_api(sign_event(load_event("api_post_order.json"))).status == 503
    monkeypatch.setenv("STATE_MACHINE_ARN", aws.state_machine_arn)
    get_settings.cache_clear()


def recorded_ago(aws: AwsWorld, seconds: int, order_id: str = ORDER_ID) -> None:
    """Moves the order's wait for a start `seconds` into the past, as if it had been recorded then."""
    aws.dynamodb.update_item(
        TableName=aws.table_name,
        Key={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "ORDER"}},
        UpdateExpression="SET unstarted_since = unstarted_since - :ago",
        ExpressionAttributeValues={":ago": {"N": str(seconds)}},
    )


def executions(aws: AwsWorld) -> list[dict[str, Any]]:
    return aws.stepfunctions.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]


def test_an_order_whose_start_failed_is_started_by_the_sweeper_once_a_minute_old(
    aws: AwsWorld, call_api: Any, store: Any, sweeper: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an order recorded while Step Functions refused to start it, and a shop that never resends it
    post_while_step_functions_refuses(aws, call_api, monkeypatch)
    # When the sweeper runs at once, and again two minutes later
    at_once = sweep(sweeper)
    recorded_ago(aws, TWO_MINUTES)
    later = sweep(sweeper)
    # Then it waits the first time (the API request may still be running), and is started the second, once,
    # under its own id, and marked RUNNING with its execution
    assert (at_once["started"], at_once["left_unstarted"]) == ([], [ORDER_ID])
    assert later["started"] == [ORDER_ID] and later["oldest_unstarted_age_seconds"] == 0
    [execution] = executions(aws)
    assert execution["name"] == ORDER_ID
    order = store.get_order(ORDER_ID)
    assert (order.status, order.execution_arn) == ("RUNNING", execution["executionArn"])
    assert list(store.iter_unstarted_orders()) == []


def test_an_order_the_shop_resent_meanwhile_is_not_started_twice(
    aws: AwsWorld, call_api: Any, store: Any, sweeper: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an order whose start failed, then whose execution was started by the shop's retry before the
    # order could be marked running (the sweeper still finds it unstarted)
    post_while_step_functions_refuses(aws, call_api, monkeypatch)
    aws.stepfunctions.start_execution(
        stateMachineArn=aws.state_machine_arn, name=ORDER_ID, input=json.dumps({"order_id": ORDER_ID})
    )
    recorded_ago(aws, TWO_MINUTES)
    # When the sweeper runs
    outcome = sweep(sweeper)
    # Then Step Functions refused a second execution of the order, which is now marked running with the first
    assert outcome["started"] == [ORDER_ID]
    assert len(executions(aws)) == 1
    assert store.get_order(ORDER_ID).status == "RUNNING"


def test_an_order_accepted_normally_is_never_unstarted(
    aws: AwsWorld, call_api: Any, store: Any, sweeper: ModuleType
) -> None:
    # Given an order accepted and started by the API
    assert call_api(sign_event(load_event("api_post_order.json"))).status == 202
    # When the sweeper runs
    outcome = sweep(sweeper)
    # Then it has nothing to start, and no second execution exists
    assert outcome == {"started": [], "left_unstarted": [], "oldest_unstarted_age_seconds": 0}
    assert len(executions(aws)) == 1


def test_an_order_whose_participants_were_not_all_recorded_is_left_for_the_shop(
    aws: AwsWorld, store: Any, sweeper: ModuleType
) -> None:
    # Given an order item written two minutes ago by a request that died before its participants were recorded
    from seatflow.models.order import OrderBody

    order = OrderBody.model_validate(json.loads(load_event("api_post_order.json")["body"]))
    store.record_order(order, order.body_sha256())
    store._update_order(ORDER_ID, {"participants_recorded": False})
    recorded_ago(aws, TWO_MINUTES)
    # When the sweeper runs
    outcome = sweep(sweeper)
    # Then it does not start an order it cannot fulfil, and reports it as waiting for two minutes
    assert (outcome["started"], outcome["left_unstarted"]) == ([], [ORDER_ID])
    assert outcome["oldest_unstarted_age_seconds"] >= TWO_MINUTES
    assert executions(aws) == []


def test_the_sweeper_publishes_the_age_of_the_oldest_unstarted_order_for_the_alarm(
    aws: AwsWorld,
    call_api: Any,
    sweeper: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an order whose start failed two minutes ago, and a Step Functions refusing again
    post_while_step_functions_refuses(aws, call_api, monkeypatch)
    recorded_ago(aws, TWO_MINUTES)
    from seatflow.config import get_settings

    monkeypatch.setenv("STATE_MACHINE_ARN", aws.state_machine_arn + "-gone")
    get_settings.cache_clear()
    from seatflow.observability import metrics

    metrics.clear_metrics()  # disabled, Powertools keeps what earlier tests added
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    # When the sweeper runs
    sweep(sweeper)
    # Then it publishes the order's age where the alarm reads it: namespace Seatflow, dimension service
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [document] = [d for d in documents if "OldestUnstartedOrderAgeSeconds" in d]
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Seatflow" and document["service"] == "seatflow"
    assert directive["Dimensions"] == [["service"]]
    [age] = document["OldestUnstartedOrderAgeSeconds"]
    assert age >= TWO_MINUTES
