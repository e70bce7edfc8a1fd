"""ExpirePersonalData: an order's retention item expired (DynamoDB TTL); erase that order's personal data.

Thin: Powertools' batch processor hands each stream record's keys to `expire_retention_item` and reports the
records that failed, so only those are tried again.
"""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from seatflow.observability import logger, metrics, tracer
from seatflow.privacy import expire_retention_item

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def expire(record: DynamoDBRecord) -> int:
    assert record.dynamodb is not None
    return expire_retention_item(record.dynamodb.keys)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(process_partial_response(event=event, record_handler=expire, processor=processor, context=context))
