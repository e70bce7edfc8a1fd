"""ShopWebhook: order events from the webhook queue, each POSTed to the shop, signed; a refused one is retried.

Thin: Powertools' batch processor hands each SQS record (an EventBridge event) to `deliver_event` and reports
the records that failed, so only those come back after the visibility timeout.
"""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from seatflow.lifecycle.webhook import deliver_event
from seatflow.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def forward(record: SQSRecord) -> int:
    return deliver_event(json.loads(record.body))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(process_partial_response(event=event, record_handler=forward, processor=processor, context=context))
