"""FinalizeSession: the order's group and members, the customer-support course, the final status."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from seatflow.fulfilment.finalize import finalize_session
from seatflow.models.tasks import OrderTask
from seatflow.moodle.latency import publishes_call_latency
from seatflow.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@publishes_call_latency
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return finalize_session(OrderTask.model_validate(event)).model_dump()
