"""EnrolParticipants: one Map item, a batch of participants; each one's account (found, reused or created),
enrolment and attachment."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from seatflow.fulfilment.enrol import enrol_participants
from seatflow.models.tasks import ParticipantBatchTask
from seatflow.moodle.latency import publishes_call_latency
from seatflow.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@publishes_call_latency
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return enrol_participants(ParticipantBatchTask.model_validate(event)).model_dump()
