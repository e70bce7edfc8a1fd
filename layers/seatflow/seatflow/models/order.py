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
from collections.abc import Iterable, Mapping, Sequence
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

from seatflow.models.lifecycle import OrderLifecycle, ParticipantLifecycle, ParticipantWork
from seatflow.models.personal import StoredPerson, email_hash
from seatflow.product import (
    ParticipantRole,
    ProductParamError,
    ProductParams,
    parse_product_params,
    product_param_errors,
)

MAX_PARTICIPANTS = 5000
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


def normalise_email(email: str) -> str:
    return email.strip().casefold()


def participant_key(role: Role, position: int) -> str:
    return f"{role}-{position:04d}"


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


def field_path(loc: Sequence[int | str]) -> str:
    """`("participants", "learners", 3, "email")` -> `participants.learners[3].email`; `()` -> `body`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


# What a JSON value is called, for "must be a whole number, not text".
_JSON_KIND = {str: "text", bool: "true or false", int: "a whole number", float: "a decimal number", list: "a list"}
_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
}
_OBJECT_EXPECTED = {"model_type", "model_attributes_type", "dict_type"}
_BOUNDS = {
    "greater_than_equal": "at least",
    "less_than_equal": "at most",
    "greater_than": "more than",
    "less_than": "less than",
}


def plain_message(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error (an item of `ValidationError.errors()`) in plain words, e.g.
    "must not be empty" for "Value should have at least 1 item". An error it already rewrote (its context
    gone) keeps its message."""
    kind, message, value = error.get("type"), str(error.get("msg", "is invalid")), error.get("input")
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    loc = tuple(error.get("loc", ()))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "string_pattern_mismatch" and loc[-1:] == ("order_id",):
        return "must be 1 to 64 characters among letters, digits, '.', '_' and '-'"
    if kind in _EXPECTED:
        given = _JSON_KIND.get(type(value), "an object" if isinstance(value, dict) else "null")
        return f"must be {_EXPECTED[kind]}, not {given}"
    if kind in _OBJECT_EXPECTED:
        return "must be a JSON object"
    if kind == "list_type":
        return "must be a list"
    unit = "characters" if isinstance(value, str) else "items"
    if kind in ("too_short", "string_too_short") and "min_length" in ctx:
        return "must not be empty" if ctx["min_length"] == 1 else f"must have at least {ctx['min_length']} {unit}"
    if kind in ("too_long", "string_too_long") and "max_length" in ctx:
        return f"must have at most {ctx['max_length']} {unit}"
    for bound, words in _BOUNDS.items():
        if kind == bound and ctx:
            return f"must be {words} {next(iter(ctx.values()))}"
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def plain_errors(errors: Iterable[Mapping[str, Any]]) -> list[InitErrorDetails]:
    """Errors of a ValidationError, ready for `ValidationError.from_exception_data`, in plain words."""
    return [
        {
            "type": PydanticCustomError(str(e["type"]), plain_message(e)),
            "loc": tuple(e["loc"]),
            "input": e.get("input"),
        }
        for e in errors
    ]


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
    operator: StoredPerson
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
    # The operator's: see seatflow.models.personal.
    email_hash: str | None = None
    erased_at: int | None = None

    @property
    def product_params(self) -> ProductParams:
        return ProductParams.model_validate(self.product.parsed)

    @model_validator(mode="after")
    def _hash_the_operators_email(self) -> OrderItem:
        if self.email_hash is None and self.operator.email:
            self.email_hash = email_hash(self.operator.email)
        return self


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
    # See seatflow.models.personal.
    email_hash: str | None = None
    erased_at: int | None = None

    @model_validator(mode="after")
    def _hash_the_email(self) -> ParticipantItem:
        if self.email_hash is None and self.email_norm:
            self.email_hash = email_hash(self.email_norm)
        return self


class ParticipantSummary(BaseModel):
    """What FinalizeSession needs of each participant: a projection of the participant item."""

    participant_key: str
    role: Role
    status: ParticipantStatus = "PENDING"
    account: Literal["created", "reused"] | None = None
    moodle_user_id: int | None = None
    todo: ParticipantWork | None = None
    erased_at: int | None = None


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
