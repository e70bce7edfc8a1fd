"""DynamoDB data access: the one table of docs/design.md (PK/SK), pydantic models in and out.

OrderStore is the table's one interface, composed of one part per kind of item: orders.py (orders, whose
recording also writes their participants), participants.py, changes.py (each change of an order, and its turn),
claims.py (the account-claim protocol), ledger.py (what orders granted each Moodle user in each course),
personal_data.py (one person's records, their erasure, each order's retention item), all on the plumbing and
the keys of table.py.
"""

from seatflow.store.claims import CLAIM_LEASE_SECONDS, AccountClaims, ClaimRequest
from seatflow.store.ledger import LedgerKey, LedgerRecords
from seatflow.store.orders import OrderRecords
from seatflow.store.personal_data import EMAIL_HASH_INDEX, RETENTION_SK, PersonalDataRecords
from seatflow.store.table import ACCOUNT_SK, ORDER_SK, ItemNotFound, account_pk, order_pk, participant_sk


class OrderStore(OrderRecords, AccountClaims, LedgerRecords, PersonalDataRecords):
    """The single table: orders, their participants and changes, the account claims, the enrolment ledger and the
    personal data they hold.
    The boto3 client is created on first use, once, under a lock."""


__all__ = [
    "store_for_settings",
    "ACCOUNT_SK",
    "CLAIM_LEASE_SECONDS",
    "EMAIL_HASH_INDEX",
    "RETENTION_SK",
    "ClaimRequest",
    "ORDER_SK",
    "ItemNotFound",
    "LedgerKey",
    "OrderStore",
    "account_pk",
    "order_pk",
    "participant_sk",
]


_per_settings: tuple[object, OrderStore] | None = None


def store_for_settings() -> OrderStore:
    """One store per container, made again when the settings change (the local runtime resets them)."""
    from seatflow.config import get_settings

    global _per_settings
    settings = get_settings()
    if _per_settings is None or _per_settings[0] is not settings:
        _per_settings = (settings, OrderStore(settings.table_name))
    return _per_settings[1]
