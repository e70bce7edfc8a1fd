"""How many calls the sandbox answers at once: Moodle's own view of the load, where a Moodle-wide limit matters.

Each call's span (start and end on the `time.monotonic()` clock) is kept, so that a test can count the calls in
flight at the moments it chooses, e.g. leaving out the moments a step outside the limit was running.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Enough spans for the largest bench order; older ones are dropped.
MAX_SPANS = 200_000


class CallGauge:
    """The calls in flight now, and the span of each call answered (the last MAX_SPANS)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.spans: deque[tuple[float, float]] = deque(maxlen=MAX_SPANS)

    @contextmanager
    def track(self) -> Iterator[None]:
        started = time.monotonic()
        with self._lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
                self.spans.append((started, time.monotonic()))

    def peak_in_flight(self, counted_at: Callable[[float], bool] = lambda _moment: True) -> int:
        """The most calls in flight at once, over the moments a call started at for which `counted_at` holds."""
        with self._lock:
            spans = list(self.spans)
        # A call ending at the moment another starts is no longer in flight: ends sort before starts.
        events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
        in_flight = peak = 0
        for moment, change in events:
            in_flight += change
            if change > 0 and counted_at(moment):
                peak = max(peak, in_flight)
        return peak
