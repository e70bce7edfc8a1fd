"""What StartChange and FinishChange share with the order API: the store, Step Functions, and how a change's
execution is started (once: Step Functions refuses a second execution of the same name)."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from botocore.exceptions import ClientError

from seatflow.config import Settings, get_settings
from seatflow.models.lifecycle import ChangeItem
from seatflow.store import OrderStore

_lock = threading.Lock()
_cached: tuple[Settings, OrderStore, Any] | None = None


def _clients() -> tuple[OrderStore, Any]:
    """One store and one Step Functions client per container, rebuilt if the settings change (the local runtime).
    Neither needs Moodle: these Lambdas never load the Moodle client."""
    global _cached
    settings = get_settings()
    with _lock:
        if _cached is None or _cached[0] is not settings:
            _cached = (settings, OrderStore(settings.table_name), boto3.client("stepfunctions"))
        return _cached[1], _cached[2]


def change_store() -> OrderStore:
    return _clients()[0]


def start_change_execution(order_id: str, change: ChangeItem) -> str:
    """Starts the execution of `change`, named after it; one that exists already counts as started."""
    state_machine_arn = get_settings().state_machine_arn
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{change.execution_name}"
    try:
        response = _clients()[1].start_execution(
            stateMachineArn=state_machine_arn,
            name=change.execution_name,
            input=json.dumps({"order_id": order_id, "change": change.seq}),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return execution_arn
        raise
    return str(response["executionArn"])
