"""The local runtime: the deployed design, on one laptop.

- DynamoDB, S3, Secrets Manager and Step Functions run in moto, created from template.yaml;
- the state machine is the same ASL file with the same DefinitionSubstitutions, executed by moto's interpreter;
- moto's Lambda invocations are routed to the handlers template.yaml names, run in-process (no Docker);
- Moodle is the sandbox, or a real Moodle when MOODLE_URL and MOODLE_TOKEN are set.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from seatflow_local.commands import local_webhook_secret
from seatflow_local.template import ROOT, FunctionSpec, Template, render_definition, resolve

ACCOUNT_ID = "123456789012"
REGION = "eu-west-3"
STACK_NAME = "seatflow-local"
STATE_DIR = ROOT / ".seatflow"
# The sandbox's fixture maps the `customer` role (id 9); a real Moodle says its own through MOODLE_ROLE_IDS.
SANDBOX_ROLE_IDS = {"customer": 9}

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class _LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""
    log_group_name: str = "local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class InProcessLambda:
    """Stands in for the Lambda service: invokes the handler template.yaml names, in this process.

    An exception becomes a FunctionError payload with errorType = the exception's class name, as Lambda does,
    so that the state machine's Retry/Catch on `MoodleTransientError` behave as on AWS.
    """

    def __init__(self, functions: list[FunctionSpec], arn_of: Callable[[str], str]) -> None:
        self._specs = {arn_of(spec.logical_id): spec for spec in functions}
        self._specs.update({spec.logical_id: spec for spec in functions})
        self._arn_of = arn_of
        self._handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        self._lock = threading.Lock()
        # Lambda never runs two invocations in one container; here they share the process. The API's Powertools
        # Idempotency layer keeps per-invocation state on one shared object, so its invocations take turns.
        self._one_at_a_time = {"OrderApiFunction": threading.Lock()}
        self.invocations: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.completed_items: set[str] = set()

    def handler(self, function: str) -> Callable[[dict[str, Any], Any], Any]:
        spec = self._specs[function]
        with self._lock:
            if spec.logical_id not in self._handlers:
                module_name, attr = spec.handler.rsplit(".", 1)
                path = spec.code_dir / f"{module_name.replace('.', '/')}.py"
                module_spec = importlib.util.spec_from_file_location(f"seatflow_fn_{spec.code_dir.name}", path)
                assert module_spec and module_spec.loader
                module: ModuleType = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
                self._handlers[spec.logical_id] = getattr(module, attr)
            return self._handlers[spec.logical_id]

    def invoke_json(self, function: str, event: dict[str, Any]) -> Any:
        spec = self._specs[function]
        context = _LambdaContext(
            function_name=spec.logical_id,
            invoked_function_arn=self._arn_of(spec.logical_id),
            aws_request_id=str(uuid.uuid4()),
        )
        with self._lock:
            self.invocations[spec.logical_id] += 1
        handler = self.handler(function)
        turn = self._one_at_a_time.get(spec.logical_id)
        if turn is None:
            result = handler(event, context)
        else:
            with turn:
                result = handler(event, context)
        # Lambda serialises the result: what a state receives is JSON, never a Python object.
        return json.loads(json.dumps(result))

    # The boto3 Lambda client's `invoke`, as moto's interpreter calls it.
    def invoke(self, FunctionName: str, Payload: Any = None, **_: Any) -> dict[str, Any]:  # noqa: N803
        event = json.loads(Payload) if isinstance(Payload, (str, bytes)) and Payload else (Payload or {})
        try:
            result = self.invoke_json(FunctionName, event)
        except Exception as exc:  # noqa: BLE001 - Lambda turns every exception into a FunctionError
            with self._lock:
                self.errors[type(exc).__name__] += 1
            body = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__)[-3:],
            }
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(body).encode()),
            }
        if isinstance(event, dict) and "participant_keys" in event:
            with self._lock:
                self.completed_items.update(f"{event.get('order_id')}/{key}" for key in event["participant_keys"] or [])
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}


class LocalRuntime:
    """Context manager: `with LocalRuntime() as rt: rt.submit_order(body); rt.wait_for_order(order_id)`."""

    def __init__(
        self,
        *,
        moodle_url: str | None = None,
        moodle_token: str | None = None,
        max_concurrency: int | None = None,
        role_ids: dict[str, int] | None = None,
        sandbox_latency_ms: float = 0.0,
        sandbox_fault_rate: float = 0.0,
        log_path: Path | None = None,
    ) -> None:
        self.template = Template()
        env_url, env_token = os.environ.get("MOODLE_URL"), os.environ.get("MOODLE_TOKEN")
        self.moodle_url = moodle_url or (env_url if env_url and env_token else None)
        self.moodle_token = moodle_token or (env_token if env_url and env_token else None)
        self.max_concurrency = max_concurrency or int(self.template.parameter_default("MapMaxConcurrency"))
        self.role_ids = role_ids
        self.sandbox_latency_ms = sandbox_latency_ms
        self.sandbox_fault_rate = sandbox_fault_rate
        self.log_path = log_path
        self.sandbox: Any = None
        self.lambdas: InProcessLambda | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._restore_dispatch: Callable[[], None] | None = None
        self._log_stream: Any = None
        self._redirected: list[tuple[logging.StreamHandler[Any], Any]] = []

    # -- lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from moto import mock_aws

        self._set_env(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_DEV": "false",
                "MOODLE_TOKEN": None,
                "WEBHOOK_SECRET": None,
            }
        )
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        # moto also routes every `requests` call through its `responses` mock (for AWS URLs called without
        # boto3; seatflow never does). Moodle must be reached over real HTTP, without that per-call detour.
        from moto.core.models import responses_mock

        responses_mock.stop(allow_assert=False)
        try:
            self._start_services()
        except BaseException:
            self.stop()
            raise

    def _start_services(self) -> None:
        if self.moodle_url is None:
            from seatflow_local.sandbox import start_sandbox

            self.sandbox = start_sandbox(latency_ms=self.sandbox_latency_ms, fault_rate=self.sandbox_fault_rate)
            self.moodle_url, self.moodle_token = self.sandbox.url, self.sandbox.token
            if self.role_ids is None:
                self.role_ids = dict(SANDBOX_ROLE_IDS)
        self._provision()
        self._route_logs()

    def stop(self) -> None:
        if self._restore_dispatch:
            self._restore_dispatch()
            self._restore_dispatch = None
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        for handler, stream in self._redirected:
            handler.setStream(stream)
        self._redirected = []
        if self._log_stream is not None:
            self._log_stream.close()
            self._log_stream = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        from seatflow.config import get_settings

        get_settings.cache_clear()

    def _set_env(self, values: dict[str, str | None]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _route_logs(self) -> None:
        """Powertools logs go to a file: the terminal shows the report, and `--json` stays pure JSON."""
        path = self.log_path or STATE_DIR / "logs" / "local.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._log_stream = path.open("a", encoding="utf-8")
        self.log_file = path
        import seatflow.observability  # noqa: F401 - creates the Powertools handler we redirect

        # moto warns that ToleratedFailurePercentage is not simulated: true, and not news to a user.
        logging.getLogger("moto").setLevel(logging.ERROR)
        for name in ("seatflow",):
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler):
                    self._redirected.append((handler, handler.setStream(self._log_stream)))

    # -- resources from template.yaml --------------------------------------------------------------------
    def function_arn(self, logical_id: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{STACK_NAME}-{logical_id}"

    def _provision(self) -> None:
        import boto3

        tpl = self.template
        table_id, table_props = tpl.one("AWS::DynamoDB::Table")
        bucket_id = tpl.one("AWS::S3::Bucket")[0]
        sm = tpl.state_machine()
        self.table_name = f"{STACK_NAME}-{table_id}"
        self.bucket_name = f"{STACK_NAME}-{bucket_id.lower()}"
        self.state_machine_name = f"{STACK_NAME}-fulfil-order"
        self.state_machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{self.state_machine_name}"

        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=self.table_name,
            AttributeDefinitions=table_props["AttributeDefinitions"],
            KeySchema=table_props["KeySchema"],
            BillingMode=table_props.get("BillingMode", "PAY_PER_REQUEST"),
        )
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=self.bucket_name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        sm_client = boto3.client("secretsmanager", region_name=REGION)
        secret_arns = {}
        for logical_id in tpl.logical_ids("AWS::SecretsManager::Secret"):
            value = local_webhook_secret() if "Webhook" in logical_id else (self.moodle_token or "")
            secret_arns[logical_id] = sm_client.create_secret(Name=f"{STACK_NAME}/{logical_id}", SecretString=value)[
                "ARN"
            ]

        names: dict[str, str] = {
            **tpl.parameter_defaults(),
            "AWS::StackName": STACK_NAME,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            table_id: self.table_name,
            bucket_id: self.bucket_name,
            sm.logical_id: self.state_machine_arn,
            "MoodleUrl": self.moodle_url or "",
            "MoodleRoleIds": json.dumps(self.role_ids or {}),
            "MapMaxConcurrency": str(self.max_concurrency),
            "LogLevel": os.environ.get("SEATFLOW_LOG_LEVEL", "INFO"),
            **secret_arns,
        }
        attributes: dict[tuple[str, str], str] = {(sm.logical_id, "Name"): self.state_machine_name}
        functions = tpl.functions()
        for spec in functions:
            names[spec.logical_id] = f"{STACK_NAME}-{spec.logical_id}"
            attributes[(spec.logical_id, "Arn")] = self.function_arn(spec.logical_id)

        # Every function sees the union of the functions' variables: they agree on every shared key.
        env: dict[str, str | None] = {}
        for spec in functions:
            env.update({key: resolve(value, names, attributes) for key, value in spec.environment.items()})
        self._set_env(env)
        from seatflow.config import get_settings

        get_settings.cache_clear()

        definition = render_definition(
            sm, {key: resolve(value, names, attributes) for key, value in sm.substitutions.items()}
        )
        boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name=self.state_machine_name,
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK_NAME}-states",
            type="STANDARD",
        )
        self.lambdas = InProcessLambda(functions, self.function_arn)
        self._restore_dispatch = _route_lambda_to(self.lambdas)

    # -- what a shop and an operator do ------------------------------------------------------------------
    def api_event(
        self, method: str, path: str, body: str = "", path_parameters: dict[str, str] | None = None
    ) -> dict[str, Any]:
        from seatflow.signature import sign

        timestamp = int(time.time())
        return {
            "resource": "/orders/{order_id}" if path_parameters else "/orders",
            "path": path,
            "httpMethod": method,
            "headers": {
                "Content-Type": "application/json",
                "Seatflow-Signature": sign(local_webhook_secret(), timestamp, body),
            },
            "multiValueHeaders": {},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": path_parameters,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": "/orders/{order_id}" if path_parameters else "/orders",
                "httpMethod": method,
                "path": f"/v1{path}",
                "stage": "v1",
                "requestId": str(uuid.uuid4()),
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": body,
            "isBase64Encoded": False,
        }

    def call_api(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        assert self.lambdas is not None
        response = self.lambdas.invoke_json("OrderApiFunction", event)
        return int(response["statusCode"]), json.loads(response.get("body") or "{}")

    def submit_order(self, body: str) -> tuple[int, dict[str, Any]]:
        return self.call_api(self.api_event("POST", "/orders", body))

    def get_order(self, order_id: str) -> tuple[int, dict[str, Any]]:
        return self.call_api(self.api_event("GET", f"/orders/{order_id}", "", path_parameters={"order_id": order_id}))

    def execution_arn(self, order_id: str) -> str:
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{self.state_machine_name}:{order_id}"

    def wait_for_order(
        self,
        order_id: str,
        *,
        timeout: float = 1800.0,
        on_progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Waits for the order's execution to end; `on_progress(participants done)` while it runs."""
        import boto3

        client = boto3.client("stepfunctions", region_name=REGION)
        arn = self.execution_arn(order_id)
        deadline = time.monotonic() + timeout
        prefix = f"{order_id}/"
        while True:
            description = client.describe_execution(executionArn=arn)
            if on_progress and self.lambdas:
                done = sum(1 for key in list(self.lambdas.completed_items) if key.startswith(prefix))
                on_progress(done)
            if description["status"] in TERMINAL:
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {order_id} still {description['status']} after {timeout}s")
            time.sleep(0.1)

    def history(self, order_id: str) -> list[dict[str, Any]]:
        import boto3

        client = boto3.client("stepfunctions", region_name=REGION)
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn(order_id), "maxResults": 1000}
        while True:
            page = client.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]


def _route_lambda_to(lambdas: InProcessLambda) -> Callable[[], None]:
    """Points moto's Step Functions interpreter at our in-process Lambda instead of moto's Docker Lambda."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils.boto_client_for

    def boto_client_for(*args: Any, **kwargs: Any) -> Any:
        service = kwargs.get("service", args[0] if args else None)
        if service == "lambda":
            return lambdas
        return original(*args, **kwargs)

    lambda_eval_utils.boto_client_for = boto_client_for

    def restore() -> None:
        lambda_eval_utils.boto_client_for = original

    return restore
