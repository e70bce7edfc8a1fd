"""What template.yaml promises an operator: least privilege, traces without personal data, logs that expire,
alarms on the metrics that matter, a dashboard, a table that outlives its stack."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from seatflow_local.template import ROOT, load_template

TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
GLOBAL_FUNCTION: dict[str, Any] = TEMPLATE["Globals"]["Function"]
GLOBAL_ENV: dict[str, Any] = GLOBAL_FUNCTION["Environment"]["Variables"]
FUNCTIONS = [key for key, res in RESOURCES.items() if res["Type"] == "AWS::Serverless::Function"]

ALARMS = {
    "ExecutionsFailedAlarm": ("AWS/States", {"ExecutionsFailed"}),
    "OrdersNotCompletedAlarm": ("Seatflow", {"OrdersFinished"}),
    "LambdaErrorsAlarm": ("AWS/Lambda", {"Errors"}),
    "LambdaThrottlesAlarm": ("AWS/Lambda", {"Throttles"}),
    "Api5xxAlarm": ("AWS/ApiGateway", {"5XXError"}),
    "DynamoDbThrottlesAlarm": ("AWS/DynamoDB", {"ReadThrottleEvents", "WriteThrottleEvents"}),
    "OldestUnstartedOrderAlarm": ("Seatflow", {"OldestUnstartedOrderAgeSeconds"}),
}


def _props(logical_id: str) -> dict[str, Any]:
    return RESOURCES[logical_id]["Properties"]


def _alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """An alarm's metrics, whether it watches one metric or a metric-math expression over several."""
    if "MetricName" in alarm:
        return [{key: alarm[key] for key in ("Namespace", "MetricName", "Dimensions")}]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def _state_machine_statements() -> list[dict[str, Any]]:
    policies = _props("FulfilOrderStateMachine")["Policies"]
    return [stmt for policy in policies if isinstance(policy, dict) for stmt in policy.get("Statement", [])]


# -- least privilege ----------------------------------------------------------------------------------------
def test_no_role_is_granted_a_full_access_managed_policy() -> None:
    # Given every function's and the state machine's policies
    holders = [*FUNCTIONS, "FulfilOrderStateMachine"]
    # Then none is an AWS managed *FullAccess policy
    named = [p for key in holders for p in _props(key).get("Policies", []) if isinstance(p, str)]
    assert not [name for name in named if "FullAccess" in name]


def test_the_state_machine_role_names_every_action_and_no_wildcard() -> None:
    # Given the state machine role's inline statements
    actions = [a for stmt in _state_machine_statements() for a in stmt["Action"]]
    # Then no action is "*" or a service-wide "svc:*"
    assert actions
    assert not [a for a in actions if a == "*" or a.endswith(":*")]


def test_the_state_machine_may_deliver_its_logs_and_do_nothing_else_with_logs() -> None:
    # Given the logs actions the state machine role is granted
    logs_actions = {a for stmt in _state_machine_statements() for a in stmt["Action"] if a.startswith("logs:")}
    # Then they are exactly the vended log-delivery actions Step Functions needs
    assert logs_actions == {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }


# -- traces ---------------------------------------------------------------------------------------------------
def test_functions_api_and_state_machine_are_traced() -> None:
    assert GLOBAL_FUNCTION["Tracing"] == "Active"
    assert not [key for key in FUNCTIONS if _props(key).get("Tracing", "Active") != "Active"]
    assert TEMPLATE["Globals"]["Api"]["TracingEnabled"] is True
    assert _props("FulfilOrderStateMachine")["Tracing"] == {"Enabled": True}


def test_no_function_captures_its_response_in_traces() -> None:
    # Given the tracer's capture setting for all functions
    assert GLOBAL_ENV["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    # Then no function turns it back on
    overrides = [
        key
        for key in FUNCTIONS
        if "POWERTOOLS_TRACER_CAPTURE_RESPONSE" in _props(key).get("Environment", {}).get("Variables", {})
    ]
    assert overrides == []


def test_the_state_machine_logs_no_execution_data() -> None:
    assert _props("FulfilOrderStateMachine")["Logging"]["IncludeExecutionData"] is False


# -- logs ----------------------------------------------------------------------------------------------------
def test_every_function_logs_json_to_its_own_log_group_with_the_stack_retention() -> None:
    # Given the JSON format for all functions
    assert GLOBAL_FUNCTION["LoggingConfig"]["LogFormat"] == "JSON"
    # When each function's log group is looked up
    groups = {key: _props(key)["LoggingConfig"]["LogGroup"]["Ref"] for key in FUNCTIONS}
    # Then each function has a group of its own, kept LogRetentionDays days
    assert len(set(groups.values())) == len(FUNCTIONS) == 10
    for group in groups.values():
        assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
        assert _props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_logs_are_kept_30_days_unless_told_otherwise() -> None:
    assert TEMPLATE["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_the_api_writes_access_logs_to_a_log_group_with_retention() -> None:
    # Given the API's access log setting
    setting = _props("OrderApi")["AccessLogSetting"]
    # Then it targets a log group that expires, and each line is JSON with the request id and status
    group = setting["DestinationArn"]["Fn::GetAtt"][0]
    assert _props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    line = json.loads(setting["Format"])
    assert {"requestId", "status", "path"} <= line.keys()


def test_the_state_machine_log_group_has_the_stack_retention() -> None:
    group = _props("FulfilOrderStateMachine")["Logging"]["Destinations"][0]["CloudWatchLogsLogGroup"]
    assert _props(group["LogGroupArn"]["Fn::GetAtt"][0])["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# -- the Moodle-wide limit ------------------------------------------------------------------------------------
def test_the_moodle_wide_limit_is_the_reserved_concurrency_of_the_batch_function() -> None:
    assert _props("EnrolParticipantsFunction")["ReservedConcurrentExecutions"] == {"Ref": "MoodleMaxConcurrency"}
    assert TEMPLATE["Parameters"]["MoodleMaxConcurrency"]["Default"] == 10


def test_a_throttled_batch_is_retried_by_the_state_machine() -> None:
    # Given the batch state of the state machine's definition
    definition = json.loads((ROOT / _props("FulfilOrderStateMachine")["DefinitionUri"]).read_text())
    batch = definition["States"]["EnrolParticipants"]["ItemProcessor"]["States"]["EnrolParticipantBatch"]
    # Then Lambda's throttling error has a retrier of its own, first (the first matching retrier wins)
    throttle = batch["Retry"][0]
    assert throttle["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
    assert not [r for r in batch["Retry"][1:] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
    # and it waits for a slot about an hour on average (full jitter halves the capped backoff), never less
    caps = [
        min(throttle["IntervalSeconds"] * throttle["BackoffRate"] ** n, throttle["MaxDelaySeconds"])
        for n in range(throttle["MaxAttempts"])
    ]
    assert sum(caps) / 2 > 50 * 60
    assert throttle["JitterStrategy"] == "FULL"


# -- unstarted orders ---------------------------------------------------------------------------------------
def test_the_unstarted_orders_index_is_sparse_on_the_attribute_the_store_sets() -> None:
    # Given the table's indexes and the store's index name
    from seatflow.store.orders import UNSTARTED_ORDERS_INDEX

    [index] = [i for i in _props("OrdersTable")["GlobalSecondaryIndexes"] if i["IndexName"] == UNSTARTED_ORDERS_INDEX]
    # Then the index is keyed on `unstarted_since` alone (only unstarted orders have it) and projects what the
    # sweeper reads
    assert index["IndexName"] == UNSTARTED_ORDERS_INDEX
    assert index["KeySchema"] == [{"AttributeName": "unstarted_since", "KeyType": "HASH"}]
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["participants_recorded"]}


def test_the_sweeper_runs_every_minute_and_may_only_read_the_index_mark_orders_and_start_executions() -> None:
    # Given the sweeper's schedule and policies
    props = _props("StartUnstartedOrdersFunction")
    [event] = props["Events"].values()
    assert (event["Type"], event["Properties"]["Schedule"]) == ("Schedule", "rate(1 minute)")
    # Then it may start executions of the state machine, scan the index and update items, nothing else
    templates = [next(iter(p)) for p in props["Policies"] if "Statement" not in p]
    statements = [stmt for p in props["Policies"] for stmt in p.get("Statement", [])]
    assert templates == ["StepFunctionsExecutionPolicy"]
    assert {(stmt["Action"], json.dumps(stmt["Resource"])) for stmt in statements} == {
        ("dynamodb:Scan", json.dumps({"Fn::Sub": "${OrdersTable.Arn}/index/UnstartedOrders"})),
        ("dynamodb:UpdateItem", json.dumps({"Fn::GetAtt": ["OrdersTable", "Arn"]})),
    }


def test_a_failing_sweeper_raises_the_lambda_errors_alarm() -> None:
    # The age alarm treats no data as fine: a sweeper that fails publishes nothing, its errors must alarm.
    watched = [
        dimension["Value"]
        for metric in _alarm_metrics(_props("LambdaErrorsAlarm"))
        for dimension in metric["Dimensions"]
    ]
    assert {"Ref": "StartUnstartedOrdersFunction"} in watched


# -- alarms ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("alarm_id", "expected"), ALARMS.items())
def test_each_alarm_watches_its_metrics_and_notifies_the_topic(alarm_id: str, expected: tuple[str, set[str]]) -> None:
    # Given one alarm
    alarm = _props(alarm_id)
    metrics = _alarm_metrics(alarm)
    # Then it watches the promised metrics, and tells the topic when it fires and when it clears
    namespace, names = expected
    assert {m["Namespace"] for m in metrics} == {namespace}
    assert {m["MetricName"] for m in metrics} == names
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["TreatMissingData"] == "notBreaching"


def test_custom_metric_alarms_use_the_namespace_and_service_the_code_emits_with() -> None:
    # Given the alarms on our own metrics
    metrics = [m for alarm_id in ALARMS for m in _alarm_metrics(_props(alarm_id))]
    ours = [m for m in metrics if not m["Namespace"].startswith("AWS/")]
    # Then each is in Powertools' namespace and carries Powertools' service dimension, or it never matches
    assert ours
    for metric in ours:
        assert metric["Namespace"] == GLOBAL_ENV["POWERTOOLS_METRICS_NAMESPACE"]
        assert {"Name": "service", "Value": GLOBAL_ENV["POWERTOOLS_SERVICE_NAME"]} in metric["Dimensions"]


def test_orders_ending_partial_or_failed_both_raise_the_alarm() -> None:
    statuses = {
        d["Value"]
        for m in _alarm_metrics(_props("OrdersNotCompletedAlarm"))
        for d in m["Dimensions"]
        if d["Name"] == "status"
    }
    assert statuses == {"PARTIAL", "FAILED"}


def test_an_order_unstarted_for_more_than_two_minutes_raises_the_alarm() -> None:
    alarm = _props("OldestUnstartedOrderAlarm")
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Maximum",
        "GreaterThanThreshold",
        120,
    )


def test_the_alarm_email_is_optional_and_subscribed_only_when_given() -> None:
    # Given the AlarmEmail parameter, empty by default
    assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""
    # Then the subscription exists only under a condition that is false for an empty address
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert TEMPLATE["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


# -- dashboard and outputs ---------------------------------------------------------------------------------
def test_the_dashboard_is_json_and_shows_outcomes_throughput_moodle_and_the_map_concurrency() -> None:
    # Given the dashboard body with its ${...} substitutions filled in
    body = _props("OperationsDashboard")["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "1", body))
    # When the metrics its widgets draw are listed
    text = json.dumps(dashboard)
    # Then it draws the orders' outcomes, participants per minute, Moodle latency and errors, batches in flight
    for name in ("OrdersFinished", "ParticipantsEnrolled", "MoodleCallLatency", "MoodleErrors", "ConcurrentExecutions"):
        assert name in text
    titles = {w["properties"].get("title"): w["properties"] for w in dashboard["widgets"]}
    assert titles["Participants provisioned per minute"]["period"] == 60


def test_the_outputs_link_to_the_state_machine_and_the_dashboard_in_the_console() -> None:
    outputs = TEMPLATE["Outputs"]
    assert "${FulfilOrderStateMachine}" in outputs["StateMachineConsoleUrl"]["Value"]["Fn::Sub"]
    assert "${OperationsDashboard}" in outputs["DashboardConsoleUrl"]["Value"]["Fn::Sub"]


# -- data and dependencies ------------------------------------------------------------------------------------
def test_the_orders_table_outlives_a_deleted_or_replaced_stack() -> None:
    table = RESOURCES["OrdersTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_layer_ships_boto3_and_botocore_of_one_version() -> None:
    # Given the layer's requirements (aws-xray-sdk pulls botocore in; Lambda's python puts /opt first)
    text = (ROOT / "layers/seatflow/requirements.txt").read_text()
    pins = dict(re.findall(r"^(boto3|botocore)==(\S+)$", text, flags=re.MULTILINE))
    # Then both are pinned, to the same release, so neither is mixed with the runtime's copy of the other
    assert pins.keys() == {"boto3", "botocore"}
    assert pins["boto3"] == pins["botocore"]


# -- order events and the shop's webhook -------------------------------------------------------------------------
PUBLISHERS = ["OrderApiFunction", "EnrolParticipantsFunction", "FinalizeSessionFunction", "RecordOrderFailureFunction"]


def test_every_function_that_changes_an_order_status_may_publish_to_the_order_bus_only() -> None:
    # Given the bus every function is told about
    assert GLOBAL_ENV["EVENT_BUS_NAME"] == {"Ref": "OrderEventBus"}
    assert RESOURCES["OrderEventBus"]["Type"] == "AWS::Events::EventBus"
    # Then each function that changes an order's status may put events on that bus, and on no other
    for key in PUBLISHERS:
        grants = [p["EventBridgePutEventsPolicy"] for p in _props(key)["Policies"] if "EventBridgePutEventsPolicy" in p]
        assert grants == [{"EventBusName": {"Ref": "OrderEventBus"}}], key


def test_the_shop_webhook_exists_only_when_its_url_is_given() -> None:
    # Given the ShopWebhookUrl parameter, empty by default
    assert TEMPLATE["Parameters"]["ShopWebhookUrl"]["Default"] == ""
    assert TEMPLATE["Conditions"]["HasShopWebhook"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ShopWebhookUrl"}, ""]}]}
    # Then every resource of the webhook is under that condition
    webhook = [key for key in RESOURCES if key.startswith("ShopWebhook")]
    assert len(webhook) >= 6
    assert {RESOURCES[key].get("Condition") for key in webhook} == {"HasShopWebhook"}


def test_the_shop_webhook_signs_with_the_webhook_secret_and_retries_then_parks_what_the_shop_refused() -> None:
    function, queue = _props("ShopWebhookFunction"), _props("ShopWebhookQueue")
    # Given the function that POSTs the events: it reads the webhook secret, and nothing else
    assert function["Environment"]["Variables"]["WEBHOOK_SECRET_ARN"] == {"Ref": "WebhookSecret"}
    assert function["Policies"] == [{"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "WebhookSecret"}}}]
    # Then it reports each refused event alone, which comes back after the visibility timeout (longer than a
    # delivery may take), a bounded number of times, then waits in the dead-letter queue
    source = function["Events"]["OrderEvents"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["VisibilityTimeout"] >= function["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ShopWebhookDeadLetterQueue", "Arn"]}
    # and what EventBridge itself cannot put in the queue goes to the same dead-letter queue
    [target] = _props("ShopWebhookRule")["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ShopWebhookDeadLetterQueue", "Arn"]}}
    assert _props("ShopWebhookUndeliveredAlarm")["AlarmActions"] == [{"Ref": "AlarmTopic"}]


# -- personal data --------------------------------------------------------------------------------------------
def test_personal_data_is_kept_365_days_after_the_session_unless_told_otherwise() -> None:
    assert TEMPLATE["Parameters"]["RetentionDays"]["Default"] == 365
    assert GLOBAL_ENV["RETENTION_DAYS"] == {"Ref": "RetentionDays"}
    assert _props("OrdersTable")["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_one_persons_records_are_found_by_the_hash_of_their_email_and_the_index_holds_nothing_else() -> None:
    from seatflow.store import EMAIL_HASH_INDEX

    [index] = [i for i in _props("OrdersTable")["GlobalSecondaryIndexes"] if i["IndexName"] == EMAIL_HASH_INDEX]
    assert index["KeySchema"] == [{"AttributeName": "email_hash", "KeyType": "HASH"}]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_only_ttl_deleting_a_retention_item_wakes_the_expiry_function() -> None:
    # Given the expiry function's stream subscription
    source = _props("ExpirePersonalDataFunction")["Events"]["RetentionExpired"]["Properties"]
    assert source["Stream"] == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    [pattern] = [json.loads(f["Pattern"]) for f in source["FilterCriteria"]["Filters"]]
    # Then it takes deletions by DynamoDB itself (TTL) of retention items, not a person's DeleteItem nor the
    # idempotency records TTL also deletes
    assert pattern == {
        "eventName": ["REMOVE"],
        "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
        "dynamodb": {"Keys": {"SK": {"S": ["RETENTION"]}}},
    }
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "OnFailure" in source["DestinationConfig"]
