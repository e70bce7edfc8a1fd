"""The clients intake shares (the order store, Step Functions), built on first use and kept for the container."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import boto3

from seatflow.store import OrderStore

_lock = threading.Lock()


@lru_cache(maxsize=1)
def order_store() -> OrderStore:
    return OrderStore()


_sfn_client: Any = None


def stepfunctions() -> Any:
    global _sfn_client
    if _sfn_client is None:
        with _lock:
            if _sfn_client is None:
                _sfn_client = boto3.client("stepfunctions")
    return _sfn_client


def forget_clients() -> None:
    """Build the store and the Step Functions client again on next use (after the environment changed)."""
    global _sfn_client
    _sfn_client = None
    order_store.cache_clear()
