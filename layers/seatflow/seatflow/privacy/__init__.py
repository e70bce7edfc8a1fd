"""Personal data: how long seatflow keeps it (`retention`), and erasing it (`erasure`), per person or per order."""

from seatflow.privacy.erasure import ErasureReport, PersonBusy, erase_person, expire_order, expire_retention_item
from seatflow.privacy.retention import personal_data_expiry, schedule_personal_data_expiry

__all__ = [
    "ErasureReport",
    "PersonBusy",
    "erase_person",
    "expire_order",
    "expire_retention_item",
    "personal_data_expiry",
    "schedule_personal_data_expiry",
]
