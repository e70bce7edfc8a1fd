"""DynamoDB's conditional writes are atomic; moto's are not when threads write at once (two conditional puts on
one key can both pass `attribute_not_exists`). The local runtime and the tests run batches in threads, so every
moto DynamoDB write takes one lock here, as the service serialises writes to an item."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()


def make_moto_writes_atomic() -> None:
    """Idempotent: wraps moto's DynamoDB backend write methods once per process."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in WRITES:
        method: Callable[..., Any] = getattr(DynamoDBBackend, name)
        if getattr(method, "_seatflow_atomic", False):
            continue

        def atomic(*args: Any, _method: Callable[..., Any] = method, **kwargs: Any) -> Any:
            with _lock:
                return _method(*args, **kwargs)

        functools.update_wrapper(atomic, method)
        atomic._seatflow_atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, atomic)
