"""How long an order keeps its people's personal data: `RetentionDays` after the session's end.

The clock starts at the session's end; a session without an end counts from its start, and an order without
a session (not prepared, or failed before) from now. Never before now: an order of a session long past still
keeps its data `RetentionDays` from when it was last changed. The order's retention item carries the date;
every step that learns or changes the session's dates writes it again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from seatflow.config import get_settings
from seatflow.store import OrderStore

DAY_SECONDS = 86_400


def personal_data_expiry(session: Mapping[str, Any] | None, *, now: int, retention_days: int) -> int:
    """When the order's personal data is erased (Unix time)."""
    session = session or {}
    end = int(session.get("timeend") or 0) or int(session.get("timestart") or 0)
    return max(end, now) + retention_days * DAY_SECONDS


def schedule_personal_data_expiry(
    store: OrderStore, order_id: str, session: Mapping[str, Any] | None, *, now: int | None = None
) -> int:
    """Write the order's retention item; returns the expiry it holds."""
    expires_at = personal_data_expiry(
        session, now=int(time.time()) if now is None else now, retention_days=get_settings().retention_days
    )
    store.schedule_expiry(order_id, expires_at)
    return expires_at
