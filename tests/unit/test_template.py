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
    assert len(set(groups.values())) == len(FUNCTIONS) == 7
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
    # Then Lambda's throttling error is one its retriers catch
    assert any("Lambda.TooManyRequestsException" in retrier["ErrorEquals"] for retrier in batch["Retry"])


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
