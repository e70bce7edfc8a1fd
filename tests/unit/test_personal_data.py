"""When an order's personal data expires, and the hash that names a person in every record."""

from __future__ import annotations

import hashlib

import pytest
from seatflow.models.order import OrderItem, ParticipantItem, normalise_email
from seatflow.models.personal import email_hash
from seatflow.privacy import personal_data_expiry

DAY = 86_400
NOW = 1_790_000_000


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        ({"timestart": NOW + 10 * DAY, "timeend": NOW + 45 * DAY}, NOW + 45 * DAY + 365 * DAY),  # after the end
        ({"timestart": NOW + 10 * DAY, "timeend": 0}, NOW + 10 * DAY + 365 * DAY),  # no end: from the start
        (None, NOW + 365 * DAY),  # no session yet: from now
        ({"timestart": NOW - 90 * DAY, "timeend": NOW - 30 * DAY}, NOW + 365 * DAY),  # long past: never before now
    ],
)
def test_personal_data_is_kept_retention_days_after_the_session_ends(session, expected) -> None:
    assert personal_data_expiry(session, now=NOW, retention_days=365) == expected


@pytest.mark.parametrize("email", ["jean.dupont@acme.example", "  Jean.Dupont@ACME.example ", "ÉLISE@exemple.fr"])
def test_the_email_hash_is_the_sha256_of_the_email_normalised_as_everywhere_else(email: str) -> None:
    assert email_hash(email) == hashlib.sha256(normalise_email(email).encode()).hexdigest()


def test_stored_items_carry_the_hash_of_the_email_of_the_person_they_are_about() -> None:
    # Given a participant item and an order item as read back from the table, without a hash (older items)
    participant = ParticipantItem(
        order_id="O-1", participant_key="learner-0001", role="learner", position=1, firstname="Jean",
        lastname="Dupont", email="Jean.Dupont@acme.example", email_norm="jean.dupont@acme.example",
    )  # fmt: skip
    order = OrderItem.model_validate(
        {
            "order_id": "O-1", "status": "COMPLETED", "body_sha256": "0" * 64, "seats": 1, "received_at": NOW,
            "operator": {"firstname": "Claire", "lastname": "Bernard", "email": "Claire@acme.example"},
            "product": {"code": "P", "params": "coursename=C", "parsed": {"coursename": "C"}},
        }
    )  # fmt: skip
    # Then each names its person by the hash, which an erased item keeps
    assert participant.email_hash == email_hash("jean.dupont@acme.example")
    assert order.email_hash == email_hash("claire@acme.example")
    erased = participant.model_copy(update={"email": "", "email_norm": ""})
    assert ParticipantItem.model_validate(erased.model_dump()).email_hash == participant.email_hash
