"""What the table stores: the order and participant items, their summaries, account claims."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from seatflow.models.lifecycle import OrderLifecycle, ParticipantLifecycle, ParticipantWork
from seatflow.models.order import OrderStatus, ParticipantStatus, Role
from seatflow.models.personal import StoredPerson, email_hash
from seatflow.product import ProductParams


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
