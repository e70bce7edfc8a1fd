"""The order body the shop posts, the rules across its fields, and the items stored for it.

Field rules (pydantic): lengths fit Moodle's user fields, names are plain text, emails are trimmed and
checked. Rules across fields (`order_rule_problems`): seats = learners + tutors, one email per participant
(compared case-insensitively; the operator may also be a participant: buying for yourself is common),
at most MAX_PARTICIPANTS. Both kinds are reported as `Problem(field, message)` with the field's path.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from seatflow.models.lifecycle import OrderLifecycle, ParticipantLifecycle, ParticipantWork
from seatflow.product import ProductParamError, ProductParams, parse_product_params

MAX_PARTICIPANTS = 5000
ORDER_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

OrderStatus = Literal["RECEIVED", "RUNNING", "COMPLETED", "PARTIAL", "FAILED", "CANCELLED"]
ParticipantStatus = Literal["PENDING", "ENROLLED", "NEEDS_REVIEW", "FAILED", "REMOVED"]
Role = Literal["learner", "tutor"]

# Moodle accepts ASCII addresses of this shape (validate_email); stricter than RFC 5322 on purpose.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_PHONE = re.compile(r"[0-9+().\- /]{3,20}")


def _plain_text(value: str) -> str:
    if "<" in value or ">" in value:
        raise ValueError("must be plain text: '<' and '>' are not allowed")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value) or ".." in value:
        raise ValueError(f"{value!r} is not a valid email address")
    return value


def _phone(value: str) -> str:
    if not _PHONE.fullmatch(value):
        raise ValueError("must be a phone number: digits, spaces and + ( ) . - /, at most 20 characters")
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


def _trim(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


Name = Annotated[str, BeforeValidator(_trim), Field(min_length=1, max_length=100), AfterValidator(_plain_text)]
Email = Annotated[str, BeforeValidator(_trim), Field(min_length=3, max_length=100), AfterValidator(_email)]


def _optional_plain(value: str | None) -> str | None:
    return None if value is None else _plain_text(value)


def _optional_phone(value: str | None) -> str | None:
    return None if value is None else _phone(value)


City = Annotated[str | None, BeforeValidator(_blank_to_none), Field(max_length=120), AfterValidator(_optional_plain)]
Institution = Annotated[
    str | None, BeforeValidator(_blank_to_none), Field(max_length=255), AfterValidator(_optional_plain)
]
Phone = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_optional_phone)]


class Person(BaseModel):
    """A Moodle user as the shop knows them: the operator or a participant."""

    model_config = ConfigDict(extra="forbid")

    firstname: Name
    lastname: Name
    email: Email
    city: City = None
    institution: Institution = None
    phone: Phone = None

    @property
    def email_norm(self) -> str:
        return normalise_email(self.email)


class Product(BaseModel):
    """The product bought: its SKU and its URL-encoded handler parameters (see seatflow.product)."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, BeforeValidator(_trim), Field(min_length=1, max_length=100), AfterValidator(_plain_text)]
    params: str = Field(max_length=2000, description="e.g. coursename=SPOCM1&supervisor=teacher&endtime=+35D")

    @field_validator("params")
    @classmethod
    def _params_parse(cls, value: str) -> str:
        try:
            parse_product_params(value)
        except ProductParamError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def parsed(self) -> ProductParams:
        return parse_product_params(self.params)


class Participants(BaseModel):
    model_config = ConfigDict(extra="forbid")

    learners: list[Person] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)
    tutors: list[Person] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)


class OrderBody(BaseModel):
    """POST /orders: one paid order of a training session."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(pattern=ORDER_ID_PATTERN, description="The shop's order (transaction) id")
    operator: Person = Field(description="The buyer; gets the supervisor role in the course and the group")
    product: Product
    seats: int = Field(strict=True, ge=1, le=MAX_PARTICIPANTS, description="Seats bought (tutors take seats)")
    participants: Participants

    def canonical_json(self) -> str:
        """The normalised body (trimmed emails, parsed defaults aside) in one stable spelling."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def body_sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def participants_with_keys(self) -> list[tuple[str, Role, int, Person]]:
        """(participant_key, role, 1-based position, person) in body order: learners, then tutors."""
        out: list[tuple[str, Role, int, Person]] = []
        for role, people in (("learner", self.participants.learners), ("tutor", self.participants.tutors)):
            for index, person in enumerate(people, start=1):
                out.append((participant_key(role, index), role, index, person))  # type: ignore[arg-type]
        return out


class Problem(BaseModel):
    """One reason an order is refused, for the shop's developer."""

    field: str = Field(description="Path of the field, e.g. participants.learners[3].email")
    message: str


def normalise_email(email: str) -> str:
    return email.strip().casefold()


def participant_key(role: Role, position: int) -> str:
    return f"{role}-{position:04d}"


def order_rule_problems(order: OrderBody) -> list[Problem]:
    """The rules across fields that the field validators cannot see."""
    problems: list[Problem] = []
    learners, tutors = len(order.participants.learners), len(order.participants.tutors)
    total = learners + tutors
    if total > MAX_PARTICIPANTS:
        problems.append(
            Problem(field="participants", message=f"{total} participants: at most {MAX_PARTICIPANTS} per order")
        )
    if total != order.seats:
        larger = (
            f"{total - order.seats} more participant(s) than seats"
            if total > order.seats
            else f"{order.seats - total} more seat(s) than participants"
        )
        problems.append(
            Problem(
                field="seats",
                message=f"{order.seats} seat(s) bought but {learners} learner(s) + {tutors} tutor(s) = "
                f"{total} participant(s): {larger}. Every tutor takes a seat like a learner.",
            )
        )
    first_seen: dict[str, str] = {}
    for role, people in (("learners", order.participants.learners), ("tutors", order.participants.tutors)):
        for index, person in enumerate(people):
            path = f"participants.{role}[{index}].email"
            earlier = first_seen.setdefault(person.email_norm, path)
            if earlier != path:
                problems.append(
                    Problem(
                        field=path,
                        message=f"{person.email!r} is already used by {earlier} "
                        "(emails are compared case-insensitively; one participant per email)",
                    )
                )
    return problems


# ----------------------------------------------------------------------------------------------------------
# Stored items (DynamoDB). Numbers are ints; see seatflow.store for keys.


class StoredProduct(BaseModel):
    code: str
    params: str
    parsed: dict[str, Any]


class OrderItem(OrderLifecycle):
    order_id: str
    status: OrderStatus
    body_sha256: str
    operator: Person
    product: StoredProduct
    seats: int
    counts: dict[str, int] = Field(default_factory=dict)
    received_at: int
    updated_at: int | None = None
    participants_recorded: bool = False
    execution_arn: str | None = None
    session: dict[str, Any] | None = None
    group: dict[str, Any] | None = None
    warnings: list[str] = Field(default_factory=list)
    failure: dict[str, Any] | None = None
    finished_at: int | None = None

    @property
    def product_params(self) -> ProductParams:
        return ProductParams.model_validate(self.product.parsed)


class ParticipantItem(ParticipantLifecycle):
    order_id: str
    participant_key: str
    role: Role
    position: int
    firstname: str
    lastname: str
    email: str
    email_norm: str
    city: str | None = None
    institution: str | None = None
    phone: str | None = None
    status: ParticipantStatus = "PENDING"
    account: Literal["created", "reused"] | None = None
    moodle_user_id: int | None = None
    username: str | None = None
    role_shortname: str | None = None
    role_id: int | None = None
    attached_to_operator: bool | None = None
    reason: str | None = None
    candidates: list[Any] | None = None
    warnings: list[str] = Field(default_factory=list)
    updated_at: int | None = None


class ParticipantSummary(BaseModel):
    """What FinalizeSession needs of each participant: a projection of the participant item."""

    participant_key: str
    role: Role
    status: ParticipantStatus = "PENDING"
    account: Literal["created", "reused"] | None = None
    moodle_user_id: int | None = None
    todo: ParticipantWork | None = None


class AccountClaim(BaseModel):
    """Who is creating (or created) the Moodle account of one email, across orders."""

    email_norm: str
    state: Literal["CREATING", "CREATED"]
    order_id: str
    participant_key: str
    moodle_user_id: int | None = None
    username: str | None = None
    claimed_at: int
    owned: bool = Field(default=False, description="True when this caller holds the claim")


class RecordResult(BaseModel):
    outcome: Literal["created", "same", "conflict"]
    order: OrderItem
