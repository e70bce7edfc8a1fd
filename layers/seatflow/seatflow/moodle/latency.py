"""How long Moodle takes to answer, by web-service function: the `MoodleCallLatency` metric (milliseconds,
dimension `wsfunction`).

One EMF document per call would cost a log line per call; the client records each call's time here instead,
and an invocation publishes its values once, when it ends, in one document per function (100 values a document
at most, as EMF allows: a function's list is also published as soon as it holds 100).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from seatflow.observability import MAX_VALUES_PER_DOCUMENT, publish_metric_alone

Handler = TypeVar("Handler", bound=Callable[..., Any])


class CallLatencies:
    """Each web-service function's call times not published yet; thread-safe (the local runtime shares it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[float]] = {}

    def record(self, wsfunction: str, milliseconds: float) -> None:
        with self._lock:
            values = self._pending.setdefault(wsfunction, [])
            values.append(milliseconds)
            full = values if len(values) >= MAX_VALUES_PER_DOCUMENT else None
            if full is not None:
                del self._pending[wsfunction]
        if full is not None:
            publish_metric_alone("MoodleCallLatency", MetricUnit.Milliseconds, full, wsfunction=wsfunction)

    def publish(self) -> None:
        """Publish every pending value, one document per function, and forget them."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for wsfunction, values in sorted(pending.items()):
            publish_metric_alone("MoodleCallLatency", MetricUnit.Milliseconds, values, wsfunction=wsfunction)


call_latencies = CallLatencies()


def publishes_call_latency(handler: Handler) -> Handler:
    """Handler decorator: the Moodle call times of the invocation are published when it ends, error or not."""

    @functools.wraps(handler)
    def publishing(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            call_latencies.publish()

    return publishing  # type: ignore[return-value]
