"""The Lambda service, in this process: invokes the handlers template.yaml names as Lambda would (JSON in, JSON or
a FunctionError out, a throttle beyond a function's reserved concurrency), for moto's Step Functions interpreter
and for the local API."""

from __future__ import annotations

import importlib.util
import io
import json
import threading
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from seatflow_local.template import FunctionSpec

# Enough invocation spans for the largest bench order; older ones are dropped.
MAX_SPANS = 100_000


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


class TooManyRequestsException(ClientError):
    """What the Lambda service answers when all of a function's reserved concurrency is in use: HTTP 429, and no
    code runs. A service error, not a FunctionError: Step Functions names it `Lambda.TooManyRequestsException`."""

    def __init__(self, function_name: str, limit: int) -> None:
        super().__init__(
            {
                "Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."},
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                "ResponseMetadata": {"HTTPStatusCode": 429, "RequestId": str(uuid.uuid4())},
            },
            "Invoke",
        )
        self.function_name = function_name
        self.limit = limit


class InvocationSpan(NamedTuple):
    """When one invocation ran, on the `time.monotonic()` clock."""

    function: str
    started: float
    ended: float


class InProcessLambda:
    """Stands in for the Lambda service: invokes the handler template.yaml names, in this process.

    An exception becomes a FunctionError payload with errorType = the exception's class name, as Lambda does,
    so that the state machine's Retry/Catch on `MoodleTransientError` behave as on AWS. A function with reserved
    concurrency (`reserved_concurrency`, logical id -> limit) runs at most that many invocations at once; one
    more is refused with TooManyRequestsException before its handler runs, as Lambda does.
    """

    def __init__(
        self,
        functions: list[FunctionSpec],
        arn_of: Callable[[str], str],
        reserved_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        self._specs = {arn_of(spec.logical_id): spec for spec in functions}
        self._specs.update({spec.logical_id: spec for spec in functions})
        self._arn_of = arn_of
        self._handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        self._lock = threading.Lock()
        # Lambda never runs two invocations in one container; here they share the process. The API's Powertools
        # Idempotency layer keeps per-invocation state on one shared object, so its invocations take turns.
        self._one_at_a_time = {"OrderApiFunction": threading.Lock()}
        self._reserved = dict(reserved_concurrency or {})
        self._running: Counter[str] = Counter()
        self.invocations: Counter[str] = Counter()
        self.throttles: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.completed_items: set[str] = set()
        self.spans: deque[InvocationSpan] = deque(maxlen=MAX_SPANS)

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
        with self._reserved_slot(spec.logical_id):
            handler = self.handler(function)
            turn = self._one_at_a_time.get(spec.logical_id)
            if turn is None:
                result = handler(event, context)
            else:
                with turn:
                    result = handler(event, context)
        # Lambda serialises the result: what a state receives is JSON, never a Python object.
        return json.loads(json.dumps(result))

    @contextmanager
    def _reserved_slot(self, function: str) -> Iterator[None]:
        """One of the function's reserved concurrency slots for the invocation, or TooManyRequestsException."""
        limit = self._reserved.get(function)
        with self._lock:
            if limit is not None and self._running[function] >= limit:
                self.throttles[function] += 1
                raise TooManyRequestsException(function, limit)
            self._running[function] += 1
            self.invocations[function] += 1
        started = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._running[function] -= 1
                self.spans.append(InvocationSpan(function, started, time.monotonic()))

    # The boto3 Lambda client's `invoke`, as moto's interpreter calls it.
    def invoke(self, FunctionName: str, Payload: Any = None, **_: Any) -> dict[str, Any]:  # noqa: N803
        event = json.loads(Payload) if isinstance(Payload, (str, bytes)) and Payload else (Payload or {})
        try:
            result = self.invoke_json(FunctionName, event)
        except TooManyRequestsException:
            raise  # the service refused the call: moto's interpreter names it Lambda.TooManyRequestsException
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


def route_lambda_to(lambdas: InProcessLambda) -> Callable[[], None]:
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
