"""The one Logger, Tracer and Metrics that every handler imports, metrics with dimensions of their own, and
email masking."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# EMF accepts at most 100 values of one metric in one document.
MAX_VALUES_PER_DOCUMENT = 100


def publish_metric_alone(name: str, unit: MetricUnit, values: Sequence[float], **dimensions: str) -> None:
    """Publish `values` of one metric now, in EMF documents of their own (100 values each at most), so that its
    dimensions (`status`, `wsfunction`...) do not attach to the invocation's other metrics. Like Powertools'
    `single_metric`, with several values, and silent when POWERTOOLS_METRICS_DISABLED is set (locally), which
    `single_metric` is not."""
    if not values or is_metrics_disabled():
        return
    emf = EphemeralMetrics()  # the namespace and the service dimension, from the environment
    for key, value in dimensions.items():
        emf.add_dimension(name=key, value=value)
    for start in range(0, len(values), MAX_VALUES_PER_DOCUMENT):
        chunk = [float(value) for value in values[start : start + MAX_VALUES_PER_DOCUMENT]]
        document = emf.serialize_metric_set(metrics={name: {"Unit": unit.value, "Value": chunk}})
        print(json.dumps(document, separators=(",", ":")))


_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9\-])[A-Za-z0-9.\-]*(\.[A-Za-z]{2,})")


def mask_email(text: str) -> str:
    """`jean.dupont@example.com` -> `j***@e***.com`: enough to tell participants apart in logs."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}***{m.group(3)}", text)
