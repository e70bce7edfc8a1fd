"""The sandbox's Moodle behind the HTTP side: the site, the token's service, and one transaction per call.

Every behaviour of the web-service functions (``ws/``) mirrors a recording in ../shared/moodle-ws (errorcodes,
exceptions, case sensitivities, silence on repeats, batch atomicity, mails sent by refused batches). The knobs
and the counters here are the sandbox's own; ``Inspection`` adds the views tests read.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from . import fixture
from .db import Database
from .inspect import Inspection
from .params import Params
from .registry import Mail, Site
from .service import SERVICE_FUNCTIONS
from .ws import FUNCTIONS  # importing ws registers every function


class Store(Inspection):
    """The sandbox site: ``dispatch()`` runs a web-service function; knobs and inspection views for tests."""

    def __init__(
        self,
        site_url: str = "http://127.0.0.1",
        clock: Callable[[], float] = time.time,
        service_functions: Iterable[str] = SERVICE_FUNCTIONS,
    ) -> None:
        self.db = Database()
        self.site = Site(db=self.db, url=site_url, clock=clock)
        self.service_functions = tuple(service_functions)
        self.calls: Counter[str] = Counter()
        self.faults = 0
        self.reset()

    @property
    def lock(self) -> threading.RLock:
        return self.db.lock

    @property
    def outbox(self) -> list[Mail]:
        return self.site.outbox

    @property
    def allowed_functions(self) -> list[str]:
        return self.site.allowed_functions

    def reset(self) -> None:
        """Back to the recordings' fixture (users 1-8, courses 1-4, no enrolments, no groups), knobs included
        (but the latency)."""
        with self.lock:
            self.db.reset()
            self.site.outbox.clear()
            self.calls.clear()
            self.site.config = {
                "allowaccountssameemail": fixture.ALLOW_ACCOUNTS_SAME_EMAIL,
                "maxusersperpage": fixture.MAX_USERS_PER_PAGE,
            }
            self.site.allowed_functions = list(self.service_functions)
            self.faults = 0

    # --- the token's service ----------------------------------------------------------------------
    def set_allowed_functions(self, functions: Iterable[str] | None) -> None:
        """Functions in the token's service (None: all implemented); others answer accessexception."""
        with self.lock:
            self.site.allowed_functions = list(self.service_functions if functions is None else functions)

    def deny_function(self, wsfunction: str) -> None:
        with self.lock:
            self.site.allowed_functions = [f for f in self.site.allowed_functions if f != wsfunction]

    def allow_function(self, wsfunction: str) -> None:
        with self.lock:
            if wsfunction not in self.site.allowed_functions:
                self.site.allowed_functions.append(wsfunction)

    def set_config(self, name: str, value: Any) -> None:
        with self.lock:
            self.site.config[name] = value

    def set_latency(self, latency_ms: float) -> None:
        """The time each call takes besides its database work, spent outside the lock."""
        self.site.latency = latency_ms / 1000

    # --- counters ---------------------------------------------------------------------------------
    def count_call(self, wsfunction: str) -> None:
        with self.lock:
            self.calls[wsfunction] += 1

    def count_fault(self) -> None:
        with self.lock:
            self.faults += 1

    # --- one call ---------------------------------------------------------------------------------
    def dispatch(self, wsfunction: str, params: Params) -> object:
        """Run one web-service function in one transaction, after the call's latency; raise WsError like Moodle."""
        function = FUNCTIONS[wsfunction]
        if function.own_transaction:  # it spends the latency where Moodle's race window is
            return function.run(self.site, params)
        time.sleep(self.site.latency)
        with self.site.transaction():
            return function.run(self.site, params)
