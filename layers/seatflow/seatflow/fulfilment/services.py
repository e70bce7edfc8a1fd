"""Where every step finds its collaborators: one store, one Moodle client and one role map per container."""

from __future__ import annotations

import threading
from functools import cached_property

from seatflow.config import Settings, get_settings
from seatflow.moodle import MoodleClient, RoleMap
from seatflow.store import OrderStore


class Services:
    """The store, the Moodle client (created on first use: RecordOrderFailure never needs the token) and roles."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = OrderStore(settings.table_name)
        self.roles = RoleMap(settings.role_ids)

    @cached_property
    def moodle(self) -> MoodleClient:
        return MoodleClient.from_settings()


_services_lock = threading.Lock()
_services: Services | None = None


def services() -> Services:
    """One store and one Moodle client per container, rebuilt if the settings change (local runtime)."""
    global _services
    settings = get_settings()
    with _services_lock:
        if _services is None or _services.settings is not settings:
            _services = Services(settings)
        return _services
