"""Atomic Moodle calls over many items: when Moodle refuses the call, find the bad items, keep the good ones.

Moodle runs a batch of enrolments, role assignments, memberships or creations in one transaction and answers
the error of the first bad item only (with debugging off, often just ``invalidparameter``). Splitting the refused
call in halves and sending each again finds every bad item in O(bad x log n) extra calls, and each good item is
applied exactly once (the calls are idempotent anyway). Transient errors are not refusals: they propagate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from .errors import MoodlePermanentError

T = TypeVar("T")


def isolate_refusals(items: Sequence[T], send: Callable[[Sequence[T]], object]) -> dict[int, MoodlePermanentError]:
    """Send ``items`` in one call; on a refusal, bisect until each refused item stands alone.

    Returns the index of each refused item with Moodle's answer for it alone; every other item was accepted.
    """
    refused: dict[int, MoodlePermanentError] = {}

    def attempt(start: int, chunk: Sequence[T]) -> None:
        if not chunk:
            return
        try:
            send(chunk)
        except MoodlePermanentError as error:
            if len(chunk) == 1:
                refused[start] = error
                return
            middle = len(chunk) // 2
            attempt(start, chunk[:middle])
            attempt(start + middle, chunk[middle:])

    attempt(0, items)
    return refused
