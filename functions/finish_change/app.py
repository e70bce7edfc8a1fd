"""FinishChange: the last state of every execution; the change's outcome into the history, the order's turn to the
next change queued (whose execution starts here)."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from seatflow.lifecycle.finish import finish_change
from seatflow.models.tasks import ChangeEnd
from seatflow.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return finish_change(ChangeEnd.model_validate(event)).model_dump()
