"""The bodies of the lifecycle's requests (retry, amendment, cancellation), the rules an amendment must keep, and
the name of each change's execution.

An amendment is the order as it now stands: the body of POST /orders plus `revision`. What may change: the
participants (keyed by normalised email), their details and roles, the session's dates, and the seats, which may
grow but never below the participants. What may not: the operator, the course and the rest of the product (cancel
and order again).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from seatflow.models.lifecycle import ChangeKind
from seatflow.models.order import (
    MAX_PARTICIPANTS,
    ORDER_ID_PATTERN,
    OrderBody,
    OrderItem,
    Participants,
    Person,
    Problem,
    Product,
)
from seatflow.models.personal import email_hash

MAX_REVISION = 99_999
# The product parameters that set the session's dates: the only ones an amendment may change.
DATE_PARAMS = frozenset({"starttime", "endtime", "endtime_relative", "duration", "renewable"})
EXECUTION_NAME_MAX = 80
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class RetryRequest(BaseModel):
    """POST /orders/{order_id}/retry: an empty object."""

    model_config = ConfigDict(extra="forbid")


def _reason(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if any(ord(ch) < 32 or ch in "<>" for ch in value):
            raise ValueError("must be plain text")
    return value


class CancellationRequest(BaseModel):
    """POST /orders/{order_id}/cancellation."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, BeforeValidator(_reason), Field(min_length=1, max_length=200)] = Field(
        description="Why the order is cancelled, e.g. refund"
    )


class AmendedOrderBody(BaseModel):
    """PUT /orders/{order_id}: the order as it now stands, and its revision (the first order is revision 1)."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(pattern=ORDER_ID_PATTERN, description="The shop's order id (the one in the path)")
    revision: int = Field(strict=True, ge=2, le=MAX_REVISION, description="Higher than every revision sent before")
    operator: Person = Field(description="Unchanged: another operator is another order")
    product: Product
    seats: int = Field(strict=True, ge=1, le=MAX_PARTICIPANTS, description="May grow; never below the participants")
    participants: Participants

    def as_order(self) -> OrderBody:
        """The same body without its revision, as POST /orders takes it (already validated)."""
        return OrderBody.model_construct(**{name: getattr(self, name) for name in OrderBody.model_fields})

    def body_sha256(self) -> str:
        return self.as_order().body_sha256()


def amendment_problems(order: OrderItem, body: AmendedOrderBody, *, order_id: str, seats_before: int) -> list[Problem]:
    """What keeps this amendment from being accepted, each problem naming its field."""
    problems: list[Problem] = []
    if body.order_id != order_id:
        problems.append(Problem(field="order_id", message=f"must be the order's id in the path ({order_id})"))
    # By the email's hash: it outlives an erasure of the operator's data.
    if email_hash(body.operator.email) != (order.email_hash or email_hash(order.operator.email)):
        problems.append(
            Problem(field="operator.email", message="the operator cannot change: cancel this order and order again")
        )
    if body.product.code != order.product.code or _fixed(body.product.parsed.model_dump(exclude_none=True)) != _fixed(
        order.product.parsed
    ):
        problems.append(
            Problem(
                field="product",
                message="only the session's dates (starttime, endtime) can change: "
                "for another course or role, cancel this order and order again",
            )
        )
    people = [("learners", p) for p in body.participants.learners] + [("tutors", p) for p in body.participants.tutors]
    if len(people) > MAX_PARTICIPANTS:
        problems.append(Problem(field="participants", message=f"at most {MAX_PARTICIPANTS} participants per order"))
    if body.seats < len(people):
        problems.append(
            Problem(
                field="seats",
                message=f"{body.seats} seat(s) for {len(people)} participant(s): fewer seats than participants "
                "(every tutor takes a seat like a learner)",
            )
        )
    if body.seats < seats_before:
        problems.append(Problem(field="seats", message=f"seats can only grow: {seats_before} were bought before"))
    first_seen: dict[str, str] = {}
    counters = {"learners": 0, "tutors": 0}
    for group, person in people:
        path = f"participants.{group}[{counters[group]}].email"
        counters[group] += 1
        earlier = first_seen.setdefault(person.email_norm, path)
        if earlier != path:
            problems.append(Problem(field=path, message=f"{person.email!r} is already used by {earlier}"))
    return problems


def dates_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the session's date parameters differ between two parsed products."""
    return {k: v for k, v in before.items() if k in DATE_PARAMS} != {k: v for k, v in after.items() if k in DATE_PARAMS}


def _fixed(parsed: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parsed.items() if k not in DATE_PARAMS and v is not None}


def execution_name(order_id: str, kind: ChangeKind, *, revision: int, retry: int) -> str:
    """`SHOP-1` (created), `SHOP-1--r2`, `SHOP-1--retry1`, `SHOP-1--cancel`: the order, then the change, at most
    80 characters, each unique for the order (Step Functions refuses a second execution of a name)."""
    suffix = {"created": "", "amended": f"--r{revision}", "retried": f"--retry{retry}", "cancelled": "--cancel"}[kind]
    base = _NAME_UNSAFE.sub("_", order_id)  # the order id pattern already keeps to Step Functions' characters
    return base[: EXECUTION_NAME_MAX - len(suffix)] + suffix
