"""RecordOrderFailure: a Catch landed here; mark the participant or the whole order FAILED with the cause."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from seatflow.failures import record_failure
from seatflow.models.tasks import FailureTask
from seatflow.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return record_failure(FailureTask.model_validate(event))
