"""The local runtime: the deployed design, on one laptop.

- DynamoDB, S3, Secrets Manager and Step Functions run in moto, created from template.yaml (stack.py);
- the state machine is the same ASL file with the same DefinitionSubstitutions, executed by moto's interpreter;
- moto's Lambda invocations are routed to the handlers template.yaml names, run in-process, no Docker, within
  their reserved concurrency (lambdas.py);
- Moodle is the sandbox, or a real Moodle when MOODLE_URL and MOODLE_TOKEN are set;
- the settings a user gives (MOODLE_ROLE_IDS, WEBHOOK_SECRET) are the deployed stack's, the functions' output
  (logs, metrics, third-party warnings) goes to the log file, and the terminal shows only what the command says.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seatflow_local.api_events import signed_api_event
from seatflow_local.commands import local_webhook_secret, require_moodle_pair, role_ids_from_env
from seatflow_local.lambda_output import FunctionOutputToLog
from seatflow_local.lambdas import InProcessLambda, route_lambda_to
from seatflow_local.stack import ACCOUNT_ID, REGION, create_stack, function_arn
from seatflow_local.template import ROOT, Template

STATE_DIR = ROOT / ".seatflow"
# The sandbox's fixture maps the `customer` role (id 9); a real Moodle says its own through MOODLE_ROLE_IDS.
SANDBOX_ROLE_IDS = {"customer": 9}

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class _JsonLines(logging.Formatter):
    """A third-party record as one JSON line, like the functions' own in the same file."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"level": record.levelname, "logger": record.name, "message": record.getMessage()})


class LocalRuntime:
    """Context manager: `with LocalRuntime() as rt: rt.submit_order(body); rt.wait_for_order(order_id)`."""

    def __init__(
        self,
        *,
        moodle_url: str | None = None,
        moodle_token: str | None = None,
        max_concurrency: int | None = None,
        moodle_max_concurrency: int | None = None,
        role_ids: dict[str, int] | None = None,
        sandbox_latency_ms: float = 0.0,
        sandbox_fault_rate: float = 0.0,
        log_path: Path | None = None,
        tracing: bool = False,
        events_path: Path | None = None,
    ) -> None:
        self.template = Template()
        if moodle_url is None:
            require_moodle_pair()  # half a Moodle setting is refused, never taken for the sandbox
        env_url, env_token = os.environ.get("MOODLE_URL"), os.environ.get("MOODLE_TOKEN")
        self.moodle_url = moodle_url or (env_url if env_url and env_token else None)
        self.moodle_token = moodle_token or (env_token if env_url and env_token else None)
        self.max_concurrency = max_concurrency or int(self.template.parameter_default("MapMaxConcurrency"))
        # The Moodle-wide limit (the batch function's reserved concurrency); None: the template's default.
        self.moodle_max_concurrency = moodle_max_concurrency
        # Role ids: given, else MOODLE_ROLE_IDS, else the sandbox's fixture (with the sandbox), else none.
        from_env = role_ids_from_env() if role_ids is None else None
        self.role_ids = role_ids if role_ids is not None else from_env
        self.role_ids_source = "given" if role_ids is not None else ("MOODLE_ROLE_IDS" if from_env else "")
        self.sandbox_latency_ms = sandbox_latency_ms
        self.sandbox_fault_rate = sandbox_fault_rate
        self.log_path = log_path
        # X-Ray tracing through Powertools' Tracer, for a test that brings its own recorder and emitter.
        self.tracing = tracing
        # The order events (seatflow.lifecycle.events) are appended here instead of going to EventBridge.
        self.events_path = events_path or STATE_DIR / "events.jsonl"
        self._events_offset = 0
        self.sandbox: Any = None
        self.lambdas: InProcessLambda | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._restore_dispatch: Callable[[], None] | None = None
        self._log_stream: Any = None
        self._redirected: list[tuple[logging.StreamHandler[Any], Any]] = []
        self._saved_stdout: Any = None
        self._warning_filters: warnings.catch_warnings[None] | None = None
        self._moto_handler: logging.Handler | None = None
        # Read before the environment is cleared below: `seatflow sign` signs with the same secret.
        self.webhook_secret = ""

    # -- lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from moto import mock_aws

        from seatflow_local.atomic_writes import make_moto_writes_atomic

        make_moto_writes_atomic()

        self.webhook_secret = local_webhook_secret()
        self._open_log()
        self._set_env(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_TRACE_DISABLED": "false" if self.tracing else "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_DEV": "false",
                "MOODLE_TOKEN": None,
                "WEBHOOK_SECRET": None,
                "SEATFLOW_EVENTS_FILE": str(self.events_path),
            }
        )
        self.events_path.parent.mkdir(parents=True, exist_ok=True)
        self._events_offset = self.events_path.stat().st_size if self.events_path.exists() else 0
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
                self.role_ids, self.role_ids_source = dict(SANDBOX_ROLE_IDS), "the sandbox's fixture"
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
        if self._saved_stdout is not None:
            sys.stdout, self._saved_stdout = self._saved_stdout, None
        if self._warning_filters is not None:
            self._warning_filters.__exit__(None, None, None)
            self._warning_filters = None
        if self._moto_handler is not None:
            moto_logger = logging.getLogger("moto")
            moto_logger.removeHandler(self._moto_handler)
            moto_logger.propagate = True
            self._moto_handler = None
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

    def _open_log(self) -> None:
        """The log file, opened first: moto logs while the stack is created (ToleratedFailurePercentage has
        no effect in its interpreter; a failed execution dumps its Fail state), and that is not news to a user."""
        path = self.log_path or STATE_DIR / "logs" / "local.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._log_stream = path.open("a", encoding="utf-8")
        self.log_file = path
        self._moto_handler = logging.StreamHandler(self._log_stream)
        self._moto_handler.setFormatter(_JsonLines())
        moto_logger = logging.getLogger("moto")
        moto_logger.addHandler(self._moto_handler)
        moto_logger.propagate = False

    def _route_logs(self) -> None:
        """Powertools logs and whatever the functions print (EMF metric lines) go to the log file: the terminal
        shows the report, and `--json` stays pure JSON."""
        import seatflow.observability  # noqa: F401 - creates the Powertools handler we redirect

        for name in ("seatflow",):
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler):
                    self._redirected.append((handler, handler.setStream(self._log_stream)))
        self._saved_stdout, sys.stdout = sys.stdout, FunctionOutputToLog(sys.stdout, self._log_stream)
        # Powertools warns after each invocation that added no metric: noise here, where metrics are off.
        self._warning_filters = warnings.catch_warnings()
        self._warning_filters.__enter__()  # the filters as they were, restored by stop()
        warnings.filterwarnings("ignore", message="No application metrics to publish")

    # -- resources from template.yaml --------------------------------------------------------------------
    def function_arn(self, logical_id: str) -> str:
        return function_arn(logical_id)

    def _provision(self) -> None:
        stack = create_stack(
            self.template,
            moodle_url=self.moodle_url,
            moodle_token=self.moodle_token,
            role_ids=self.role_ids,
            max_concurrency=self.max_concurrency,
            moodle_max_concurrency=self.moodle_max_concurrency,
            webhook_secret=self.webhook_secret,
        )
        self.table_name = stack.table_name
        self.bucket_name = stack.bucket_name
        self.state_machine_name = stack.state_machine_name
        self.state_machine_arn = stack.state_machine_arn
        self._set_env(stack.function_environment)
        from seatflow.config import get_settings

        get_settings.cache_clear()
        self.lambdas = InProcessLambda(stack.functions, self.function_arn, stack.reserved_concurrency)
        self._restore_dispatch = route_lambda_to(self.lambdas)

    # -- what a shop and an operator do ------------------------------------------------------------------
    def api_event(
        self, method: str, path: str, body: str = "", path_parameters: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return signed_api_event(self.webhook_secret, method, path, body, path_parameters)

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

    def events(self, order_id: str) -> list[dict[str, Any]]:
        """The events of this order published since the runtime started, oldest first."""
        if not self.events_path.exists():
            return []
        with self.events_path.open(encoding="utf-8") as stream:
            stream.seek(self._events_offset)
            events = [json.loads(line) for line in stream if line.strip()]
        return [event for event in events if event.get("detail", {}).get("order_id") == order_id]

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
