"""The stack template.yaml describes, created in moto: table (and its indexes), bucket, secrets and state machine,
with the names, ARNs, function environment and reserved concurrency SAM would give them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from seatflow_local.commands import local_webhook_secret
from seatflow_local.template import FunctionSpec, Template, render_definition, resolve

ACCOUNT_ID = "123456789012"
REGION = "eu-west-3"
STACK_NAME = "seatflow-local"


@dataclass(frozen=True)
class LocalStack:
    """What was created, and the environment every function sees."""

    table_name: str
    bucket_name: str
    state_machine_name: str
    state_machine_arn: str
    functions: list[FunctionSpec]
    function_environment: dict[str, str | None]
    # Logical id -> ReservedConcurrentExecutions, for the functions that have one (the Moodle-wide limit).
    reserved_concurrency: dict[str, int]


def function_arn(logical_id: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{STACK_NAME}-{logical_id}"


def create_stack(
    tpl: Template,
    *,
    moodle_url: str | None,
    moodle_token: str | None,
    role_ids: dict[str, int] | None,
    max_concurrency: int,
    moodle_max_concurrency: int | None = None,
) -> LocalStack:
    """Creates the template's resources in moto (which must be started) and resolves the functions' environment."""
    import boto3

    table_id, table_props = tpl.one("AWS::DynamoDB::Table")
    bucket_id = tpl.one("AWS::S3::Bucket")[0]
    sm = tpl.state_machine()
    table_name = f"{STACK_NAME}-{table_id}"
    bucket_name = f"{STACK_NAME}-{bucket_id.lower()}"
    state_machine_name = f"{STACK_NAME}-fulfil-order"
    state_machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{state_machine_name}"

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    indexes = {key: table_props[key] for key in ("GlobalSecondaryIndexes",) if key in table_props}
    dynamodb.create_table(
        TableName=table_name,
        AttributeDefinitions=table_props["AttributeDefinitions"],
        KeySchema=table_props["KeySchema"],
        BillingMode=table_props.get("BillingMode", "PAY_PER_REQUEST"),
        **indexes,
    )
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=bucket_name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    sm_client = boto3.client("secretsmanager", region_name=REGION)
    secret_arns = {}
    for logical_id in tpl.logical_ids("AWS::SecretsManager::Secret"):
        value = local_webhook_secret() if "Webhook" in logical_id else (moodle_token or "")
        secret_arns[logical_id] = sm_client.create_secret(Name=f"{STACK_NAME}/{logical_id}", SecretString=value)["ARN"]

    names: dict[str, str] = {
        **tpl.parameter_defaults(),
        "AWS::StackName": STACK_NAME,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        table_id: table_name,
        bucket_id: bucket_name,
        sm.logical_id: state_machine_arn,
        "MoodleUrl": moodle_url or "",
        "MoodleRoleIds": json.dumps(role_ids or {}),
        "MapMaxConcurrency": str(max_concurrency),
        **({"MoodleMaxConcurrency": str(moodle_max_concurrency)} if moodle_max_concurrency else {}),
        "LogLevel": os.environ.get("SEATFLOW_LOG_LEVEL", "INFO"),
        **secret_arns,
        # Named as CloudFormation names it; locally the events go to a file (SEATFLOW_EVENTS_FILE), not to a bus.
        **{bus: f"{STACK_NAME}-{bus}" for bus in tpl.logical_ids("AWS::Events::EventBus")},
    }
    attributes: dict[tuple[str, str], str] = {(sm.logical_id, "Name"): state_machine_name}
    functions = tpl.functions()
    for spec in functions:
        names[spec.logical_id] = f"{STACK_NAME}-{spec.logical_id}"
        attributes[(spec.logical_id, "Arn")] = function_arn(spec.logical_id)

    # Every function sees the union of the functions' variables: they agree on every shared key.
    env: dict[str, str | None] = {}
    for spec in functions:
        env.update({key: resolve(value, names, attributes) for key, value in spec.environment.items()})

    definition = render_definition(
        sm, {key: resolve(value, names, attributes) for key, value in sm.substitutions.items()}
    )
    boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name=state_machine_name,
        definition=definition,
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK_NAME}-states",
        type="STANDARD",
    )
    reserved = {
        spec.logical_id: int(resolve(spec.reserved_concurrency, names, attributes))
        for spec in functions
        if spec.reserved_concurrency is not None
    }
    return LocalStack(table_name, bucket_name, state_machine_name, state_machine_arn, functions, env, reserved)
