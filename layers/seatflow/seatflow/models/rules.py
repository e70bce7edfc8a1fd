"""The order's cross-field rules (seats, duplicate emails, roles the product allows), reported with the field
errors in one ValidationError, each at its field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_core import InitErrorDetails, PydanticCustomError

from seatflow.models.wording import field_path
from seatflow.product import ParticipantRole, ProductParamError, parse_product_params

MAX_PARTICIPANTS = 5000


def normalise_email(email: str) -> str:
    return email.strip().casefold()


Loc = tuple[int | str, ...]


def _rule_breaches(body: Any, *, wrong: set[Loc]) -> list[tuple[Loc, str]]:
    """(location, message) of each rule across fields the body breaks, read from a raw body.
    A rule whose inputs are missing or wrong (their location is in `wrong`) is not checked."""
    if not isinstance(body, Mapping):
        return []
    participants = body.get("participants")
    people: dict[str, list[Any]] = {}
    if isinstance(participants, Mapping):
        for role in ("learners", "tutors"):
            group = participants.get(role, [])
            if isinstance(group, list) and ("participants", role) not in wrong:
                people[role] = group
    breaches: list[tuple[Loc, str]] = []
    learners, tutors = len(people.get("learners", [])), len(people.get("tutors", []))
    total = learners + tutors
    if total > MAX_PARTICIPANTS:
        breaches.append((("participants",), f"{total} participants: at most {MAX_PARTICIPANTS} per order"))
    seats = body.get("seats")
    if len(people) == 2 and type(seats) is int and ("seats",) not in wrong and seats != total:
        sides = f"seats ({seats}) is {'less' if seats < total else 'more'} than learners + tutors ({total})"
        if seats < total:
            why = f"{total - seats} more participant(s) than seats; every tutor takes a seat like a learner"
        else:
            why = f"{seats - total} more seat(s) than participants"
        breaches.append((("seats",), f"{sides}: {why}"))
    first_seen: dict[str, Loc] = {}
    for role, group in people.items():
        for index, person in enumerate(group):
            loc: Loc = ("participants", role, index, "email")
            email = person.get("email") if isinstance(person, Mapping) else getattr(person, "email", None)
            if not isinstance(email, str) or loc in wrong:
                continue
            earlier = first_seen.setdefault(normalise_email(email), loc)
            if earlier != loc:
                breaches.append(
                    (
                        loc,
                        f"{email.strip()!r} is already used by {field_path(earlier)} "
                        "(emails are compared case-insensitively; one participant per email)",
                    )
                )
    return breaches + _role_breaches(body.get("product"), people, wrong)


def _role_breaches(product: Any, people: Mapping[str, list[Any]], wrong: set[Loc]) -> list[tuple[Loc, str]]:
    """Participants of a role the product's `requiredroles` does not name (checked once the params parse)."""
    raw = product.get("params") if isinstance(product, Mapping) else getattr(product, "params", None)
    if not isinstance(raw, str) or any(loc[:2] == ("product", "params") for loc in wrong):
        return []
    try:
        params = parse_product_params(raw)
    except ProductParamError:
        return []
    held: dict[str, tuple[ParticipantRole, str]] = {
        "learners": ("learner", "student"),
        "tutors": ("tutor", "the supervisor role"),
    }
    return [
        (
            ("participants", group),
            f"this product takes no {group}: its requiredroles ({', '.join(params.requiredroles or ())}) do not "
            f"name {held[group][1]}; remove the {len(people[group])} {group[:-1]}(s) or change the product",
        )
        for group in ("learners", "tutors")
        if people.get(group) and not params.takes(held[group][0])
    ]


def _as_errors(breaches: Iterable[tuple[Loc, str]]) -> list[InitErrorDetails]:
    return [
        {"type": PydanticCustomError("order_rule", message), "loc": loc, "input": None} for loc, message in breaches
    ]
