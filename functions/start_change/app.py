"""StartChange: the first state of every execution; the change whose turn it is is applied to the stored order."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from seatflow.lifecycle.start import start_change
from seatflow.models.tasks import OrderTask
from seatflow.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return start_change(OrderTask.model_validate(event)).model_dump()
