"""The order body the shop posts, the rules across its fields, and the items stored for it.

Field rules (pydantic): lengths fit Moodle's user fields, names are plain text, emails are trimmed and
checked as Moodle's `validate_email` checks them. Rules across fields: seats = learners + tutors, one email
per participant (compared case-insensitively; the operator may also be a participant: buying for yourself
is common), at most MAX_PARTICIPANTS.

One validation round finds every problem: field errors, the rules across fields (read from whatever fields
are valid) and every bad product parameter come in one ValidationError, each message in plain words
(`plain_message`). `Problem(field, message)` reports one of them with the field's path.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from seatflow.models.rules import MAX_PARTICIPANTS, _as_errors, _rule_breaches, normalise_email
from seatflow.product import (
    ProductParams,
    parse_product_params,
    product_param_errors,
)

ORDER_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

OrderStatus = Literal["RECEIVED", "RUNNING", "COMPLETED", "PARTIAL", "FAILED", "CANCELLED"]
ParticipantStatus = Literal["PENDING", "ENROLLED", "NEEDS_REVIEW", "FAILED", "REMOVED"]
Role = Literal["learner", "tutor"]

# Moodle's validate_email (lib/weblib.php) is PHPMailer's validateAddress, i.e. PHP's FILTER_VALIDATE_EMAIL
# without Unicode, minus '<' and '>'. Its dot-atom form, ASCII only: words of these characters joined by
# single dots before the '@' (at most 64 characters), then at least two domain labels of letters, digits
# and inner hyphens (at most 63 each), the last one starting with a letter. Moodle also takes quoted local
# parts and [IP] domains; shops do not send them, and we refuse them rather than guess.
_EMAIL_WORD = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOMAIN_LABEL = r"[A-Za-z0-9]+(?:-+[A-Za-z0-9]+)*"
_TOP_LABEL = r"[A-Za-z][A-Za-z0-9]*(?:-+[A-Za-z0-9]+)*"
_EMAIL = re.compile(rf"(?P<local>{_EMAIL_WORD}(?:\.{_EMAIL_WORD})*)@(?P<domain>(?:{_DOMAIN_LABEL}\.)+{_TOP_LABEL})")
_PHONE = re.compile(r"[0-9+().\- /]{3,20}")


def _plain_text(value: str) -> str:
    if "<" in value or ">" in value:
        raise ValueError("must be plain text: '<' and '>' are not allowed")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _email(value: str) -> str:
    local, at, _ = value.rpartition("@")
    if not at or not local:
        raise ValueError(f"{value!r} is not an email address: it needs a name, '@' and a domain")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError(f"{value!r}: the part before '@' may not start or end with a dot, or hold two in a row")
    match = _EMAIL.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} is not an email address Moodle accepts")
    if len(match["local"]) > 64 or any(len(label) > 63 for label in match["domain"].split(".")):
        raise ValueError(f"{value!r} has a part longer than email allows (64 before '@', 63 per domain label)")
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


# The length bound sits on the text inside the union: on `str | None` pydantic applies it to None too, and
# raises a TypeError (not a ValidationError) for a blank or null city.
City = Annotated[
    Annotated[str, Field(max_length=120)] | None, BeforeValidator(_blank_to_none), AfterValidator(_optional_plain)
]
Institution = Annotated[
    Annotated[str, Field(max_length=255)] | None, BeforeValidator(_blank_to_none), AfterValidator(_optional_plain)
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

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem_at_once(cls, data: Any, handler: ModelWrapValidatorHandler[Product]) -> Product:
        """Field errors and every bad parameter key (each one at `params`), in plain words."""
        field_errors: list[Any] = []
        try:
            product = handler(data)
        except ValidationError as refused:
            field_errors = refused.errors()
        raw = data.get("params") if isinstance(data, Mapping) else getattr(data, "params", None)
        param_errors: list[InitErrorDetails] = []
        if isinstance(raw, str) and not any(e["loc"][:1] == ("params",) for e in field_errors):
            param_errors = [
                {"type": PydanticCustomError("product_param", str(exc)), "loc": ("params",), "input": raw}
                for exc in product_param_errors(raw)
            ]
        if field_errors or param_errors:
            raise ValidationError.from_exception_data(cls.__name__, [*plain_errors(field_errors), *param_errors])
        return product

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

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem_at_once(cls, data: Any, handler: ModelWrapValidatorHandler[OrderBody]) -> OrderBody:
        """Field errors and the rules across fields in one ValidationError, in plain words. When fields are
        wrong the rules read the raw body, skipping whatever is itself wrong."""
        try:
            order = handler(data)
        except ValidationError as refused:
            field_errors = refused.errors()
            breaches = _rule_breaches(data, wrong={tuple(e["loc"]) for e in field_errors})
            raise ValidationError.from_exception_data(
                cls.__name__, [*plain_errors(field_errors), *_as_errors(breaches)]
            ) from None
        breaches = _rule_breaches(order._rule_inputs(), wrong=set())
        if breaches:
            raise ValidationError.from_exception_data(cls.__name__, _as_errors(breaches))
        return order

    def _rule_inputs(self) -> dict[str, Any]:
        """What the rules across fields read, shaped as a raw body (people as Person models)."""
        participants = {"learners": self.participants.learners, "tutors": self.participants.tutors}
        return {"seats": self.seats, "participants": participants, "product": self.product}

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


def participant_key(role: Role, position: int) -> str:
    return f"{role}-{position:04d}"


# The wording of errors and the stored items have modules of their own; much of the code imports them from here.
from seatflow.models.items import (  # noqa: E402
    AccountClaim,
    OrderItem,
    ParticipantItem,
    ParticipantSummary,
    RecordResult,
    StoredProduct,
)
from seatflow.models.wording import field_path, plain_errors, plain_message  # noqa: E402

__all__ = [
    "MAX_PARTICIPANTS",
    "AccountClaim",
    "OrderItem",
    "ParticipantItem",
    "ParticipantSummary",
    "RecordResult",
    "StoredProduct",
    "field_path",
    "normalise_email",
    "plain_errors",
    "plain_message",
]
