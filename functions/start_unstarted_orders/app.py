"""StartUnstartedOrders: every minute, starts the orders recorded while Step Functions refused to start them."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from seatflow.intake.sweeper import start_unstarted_orders
from seatflow.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # The scheduled event carries nothing the sweep needs: it reads the unstarted orders from the table.
    return start_unstarted_orders().model_dump()
