"""POST /orders: check the order's rules, then record it and start its workflow, once per order id.

Idempotency, two layers:
- Powertools Idempotency on `accept_order`, keyed on the order id, with payload validation: a replay
  within an hour gets the stored answer without touching anything; a different body is a conflict.
- The order item itself, written on condition it does not exist and holding the body's SHA-256: the
  source of truth once the idempotency record has expired.
A failed workflow start raises (so Powertools deletes its in-progress record instead of caching it), the
order stays RECEIVED, and the next POST of the same order starts it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

from seatflow.config import get_settings
from seatflow.intake.clients import order_store
from seatflow.intake.errors import OrderConflict, OrderInProgress, OrderRejected
from seatflow.intake.report import Links, order_link
from seatflow.intake.workflow import start_workflow
from seatflow.lifecycle.events import order_event
from seatflow.models.order import OrderBody, OrderStatus, order_rule_problems
from seatflow.observability import logger, metrics
from seatflow.privacy.retention import schedule_personal_data_expiry

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_EXPIRES_AFTER_SECONDS = 3600


class AcceptedOrder(BaseModel):
    """202: the order is recorded and its fulfilment started."""

    order_id: str
    status: OrderStatus
    links: Links


def accept_order(order: OrderBody, context: LambdaContext | None = None) -> AcceptedOrder:
    """Check the rules across fields, then record the order and start its workflow, once per order id."""
    problems = order_rule_problems(order)
    if problems:
        raise OrderRejected(f"the order has {len(problems)} problem(s)", problems)
    accept, config = _idempotent_accept()
    if context is not None:
        config.register_lambda_context(context)
    try:
        return accept(order=order)  # type: ignore[no-any-return]
    except IdempotencyValidationError:
        raise _conflict(order.order_id) from None
    except IdempotencyAlreadyInProgressError:
        raise OrderInProgress(
            f"order {order.order_id} is being accepted by another request; retry in a few seconds"
        ) from None


def forget_idempotency_layer() -> None:
    """Build the idempotency layer again on next use (after the table name changed)."""
    _idempotent_accept.cache_clear()


@lru_cache(maxsize=1)
def _idempotent_accept() -> tuple[Any, IdempotencyConfig]:
    """`_record_and_start` under Powertools Idempotency; built on first use, when the table is known."""
    config = IdempotencyConfig(
        event_key_jmespath="order_id",
        payload_validation_jmespath="@",
        expires_after_seconds=IDEMPOTENCY_EXPIRES_AFTER_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    persistence = DynamoDBPersistenceLayer(table_name=get_settings().table_name, key_attr="PK", sort_key_attr="SK")
    decorated = idempotent_function(
        data_keyword_argument="order",
        persistence_store=persistence,
        config=config,
        output_serializer=PydanticSerializer(model=AcceptedOrder),
        # Powertools' default prefix names the function's module; pinned to the one it had before
        # intake became a package, so a replay still finds the records written before that deploy.
        key_prefix=f"{os.getenv('AWS_LAMBDA_FUNCTION_NAME', 'test-func')}.seatflow.intake._record_and_start",
    )(_record_and_start)
    return decorated, config


def _record_and_start(order: OrderBody) -> AcceptedOrder:
    store = order_store()
    result = store.record_order(order, order.body_sha256())
    if result.outcome == "conflict":
        raise _conflict(order.order_id)
    if result.outcome == "created":
        # Until its session is known, an order keeps its personal data RetentionDays from now.
        schedule_personal_data_expiry(store, order.order_id, None)
    status: OrderStatus = result.order.status
    if status == "RECEIVED":
        execution_arn = start_workflow(order.order_id)
        store.mark_running(order.order_id, execution_arn)
        status = "RUNNING"
        order_event("Order Accepted", result.order.model_copy(update={"execution_arn": execution_arn}), status=status)
        if result.outcome == "created":
            metrics.add_metric(name="OrdersAccepted", unit=MetricUnit.Count, value=1)
    logger.info(
        "Order accepted",
        extra={"order_id": order.order_id, "outcome": result.outcome, "status": status, "seats": order.seats},
    )
    return AcceptedOrder(order_id=order.order_id, status=status, links=order_link(order.order_id))


def _conflict(order_id: str) -> OrderConflict:
    return OrderConflict(
        f"order {order_id} was already received with a different body; an order id can only be used once"
    )
