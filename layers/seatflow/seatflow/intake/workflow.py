"""Starting an order's workflow: one execution per order, named after it, so Step Functions itself refuses a
second start of the same order. The API starts it when the order is accepted; the sweeper, if the API could not."""

from __future__ import annotations

import json

from botocore.exceptions import BotoCoreError, ClientError

from seatflow.config import get_settings
from seatflow.intake.clients import stepfunctions
from seatflow.intake.errors import WORKFLOW_RETRY_AFTER_SECONDS, WorkflowNotStarted
from seatflow.observability import logger


def start_workflow(order_id: str) -> str:
    """Start the execution named after the order and return its ARN; an existing one counts as started.
    Raises WorkflowNotStarted when Step Functions refuses or cannot be reached."""
    state_machine_arn = get_settings().state_machine_arn
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{order_id}"
    try:
        response = stepfunctions().start_execution(
            stateMachineArn=state_machine_arn,
            name=order_id,
            # The order's first change, its creation: it holds the order's turn (docs/decisions/0013-order-changes.md).
            input=json.dumps({"order_id": order_id, "change": 1}),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return execution_arn
        logger.exception("Could not start the workflow", extra={"order_id": order_id})
        raise _not_started(order_id) from exc
    except (BotoCoreError, ValueError) as exc:
        logger.exception("Could not start the workflow", extra={"order_id": order_id})
        raise _not_started(order_id) from exc
    return str(response["executionArn"])


def _not_started(order_id: str) -> WorkflowNotStarted:
    return WorkflowNotStarted(
        f"order {order_id} is recorded but its processing could not be started; "
        f"send the same request again (after {WORKFLOW_RETRY_AFTER_SECONDS}s) to start it"
    )
