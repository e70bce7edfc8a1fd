"""Moodle's external functions table: ``@webservice(name)`` registers a function, the store dispatches on it.

A web-service function gets the ``Site`` it runs on and the parsed parameters, returns what Moodle would
(``None`` for a void function) or raises ``WsError``. It runs inside the call's transaction, unless it is
registered with ``own_transaction=True``: it then opens ``site.transaction()`` itself, where Moodle does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

from .db import Database
from .params import Params


class Mail(TypedDict):
    """A mail Moodle sent: the "new account" mail of an account created with createpassword=1.

    Moodle sends it as it inserts the user, before the commit: when the batch is then refused, the mail is out
    all the same, about an account that does not exist (``phantom``).
    """

    to: str
    username: str
    user_id: int
    subject: str
    phantom: bool


@dataclass
class Site:
    """What a web-service function sees of the site besides its parameters."""

    db: Database
    url: str
    clock: Callable[[], float]
    config: dict[str, Any] = field(default_factory=dict)
    outbox: list[Mail] = field(default_factory=list)
    allowed_functions: list[str] = field(default_factory=list)  # the token's service, as configured
    latency: float = 0.0  # seconds a call spends in Moodle besides its database work (the latency knob)

    def user_picture(self, size: str) -> str:
        """The default user picture's URL (``f1`` large, ``f2`` small)."""
        return f"{self.url}/theme/image.php/boost/core/1/u/{size}"

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One delegated transaction: on a refusal its rows go, and the mails sent during it stay out, phantom."""
        with self.db.lock:
            sent_before = len(self.outbox)
            try:
                with self.db.transaction():
                    yield
            except BaseException:
                for mail in self.outbox[sent_before:]:
                    mail["phantom"] = True
                raise


WebServiceFunction = Callable[[Site, Params], object]
F = TypeVar("F", bound=WebServiceFunction)


@dataclass(frozen=True)
class Registered:
    run: WebServiceFunction
    own_transaction: bool


FUNCTIONS: dict[str, Registered] = {}


def webservice(wsfunction: str, *, own_transaction: bool = False) -> Callable[[F], F]:
    """Register the decorated function as Moodle's ``wsfunction``."""

    def register(function: F) -> F:
        if wsfunction in FUNCTIONS:
            raise ValueError(f"{wsfunction} is registered twice")
        FUNCTIONS[wsfunction] = Registered(function, own_transaction)
        return function

    return register
