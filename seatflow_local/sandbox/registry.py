"""Moodle's external functions table: ``@webservice(name)`` registers a function, the store dispatches on it.

A web-service function gets the ``Site`` it runs on and the parsed parameters, returns what Moodle would
(``None`` for a void function) or raises ``WsError``. It runs inside the call's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

from .db import Database
from .params import Params


class Mail(TypedDict):
    """A mail Moodle would send: the "new account" mail of an account created with createpassword=1."""

    to: str
    username: str
    user_id: int
    subject: str


@dataclass
class Site:
    """What a web-service function sees of the site besides its parameters."""

    db: Database
    url: str
    clock: Callable[[], float]
    config: dict[str, Any] = field(default_factory=dict)
    outbox: list[Mail] = field(default_factory=list)
    allowed_functions: list[str] = field(default_factory=list)  # the token's service, as configured

    def user_picture(self, size: str) -> str:
        """The default user picture's URL (``f1`` large, ``f2`` small)."""
        return f"{self.url}/theme/image.php/boost/core/1/u/{size}"


WebServiceFunction = Callable[[Site, Params], object]
F = TypeVar("F", bound=WebServiceFunction)

FUNCTIONS: dict[str, WebServiceFunction] = {}


def webservice(wsfunction: str) -> Callable[[F], F]:
    """Register the decorated function as Moodle's ``wsfunction``."""

    def register(function: F) -> F:
        if wsfunction in FUNCTIONS:
            raise ValueError(f"{wsfunction} is registered twice")
        FUNCTIONS[wsfunction] = function
        return function

    return register
