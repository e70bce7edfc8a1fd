"""The Person whose account is resolved, taken from the order's operator or from one participant."""

from __future__ import annotations

from seatflow.models.order import OrderItem, ParticipantItem, Person


def person_of(item: OrderItem | ParticipantItem) -> Person:
    source = item.operator if isinstance(item, OrderItem) else item
    return Person.model_construct(
        firstname=source.firstname,
        lastname=source.lastname,
        email=source.email,
        city=source.city,
        institution=source.institution,
        phone=source.phone,
    )
