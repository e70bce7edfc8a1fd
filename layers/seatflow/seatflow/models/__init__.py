"""pydantic models: the order body and the stored items (order.py); the workflow's task inputs and outputs
live in their own module next to it."""

from seatflow.models.order import (
    MAX_PARTICIPANTS,
    AccountClaim,
    OrderBody,
    OrderItem,
    OrderStatus,
    ParticipantItem,
    Participants,
    ParticipantStatus,
    Person,
    Problem,
    Product,
    RecordResult,
    StoredProduct,
    normalise_email,
    participant_key,
)

__all__ = [
    "MAX_PARTICIPANTS",
    "AccountClaim",
    "OrderBody",
    "OrderItem",
    "OrderStatus",
    "ParticipantItem",
    "ParticipantStatus",
    "Participants",
    "Person",
    "Problem",
    "Product",
    "RecordResult",
    "StoredProduct",
    "normalise_email",
    "participant_key",
]
