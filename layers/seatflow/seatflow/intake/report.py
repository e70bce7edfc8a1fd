"""GET /orders/{order_id}: the order's status, each participant's outcome and the order's history of changes,
read from the store.

`order_link` lives here because the link every answer carries is where this report is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from seatflow.intake.clients import order_store
from seatflow.intake.errors import OrderNotFound
from seatflow.models.lifecycle import ChangeItem, ChangeKind, ChangeState
from seatflow.models.order import ORDER_ID_PATTERN, OrderItem, OrderStatus, ParticipantItem, ParticipantStatus


class Links(BaseModel):
    self: str


class OperatorOutcome(BaseModel):
    firstname: str
    lastname: str
    email: str
    account: Literal["created", "reused"] | None = None
    moodle_user_id: int | None = None
    username: str | None = None
    erased_at: int | None = Field(default=None, description="When the operator's personal data was erased")


class ParticipantOutcome(BaseModel):
    participant_key: str
    role: Literal["learner", "tutor"]
    position: int
    firstname: str
    lastname: str
    email: str
    status: ParticipantStatus
    account: Literal["created", "reused"] | None = None
    moodle_user_id: int | None = None
    username: str | None = None
    role_enrolled: str | None = None
    attached_to_operator: bool | None = None
    group_member: bool | None = None
    reason: str | None = None
    warnings: list[str] = Field(default_factory=list)
    erased_at: int | None = Field(default=None, description="When this person's personal data was erased")


class ChangeRecord(BaseModel):
    """One change of the order: its creation, an amendment, a retry or its cancellation."""

    revision: int
    kind: ChangeKind
    accepted_at: int
    execution_name: str
    state: ChangeState
    outcome: str | None = Field(default=None, description="The order's status when the change ended")
    finished_at: int | None = None
    reason: str | None = Field(default=None, description="cancelled: the shop's reason")
    summary: dict[str, int] = Field(default_factory=dict, description="What the change did, counted")


class OrderReport(BaseModel):
    """GET /orders/{order_id}."""

    order_id: str
    status: OrderStatus
    execution_name: str | None = Field(default=None, description="The Step Functions execution of this order")
    revision: int = Field(default=1, description="The last revision accepted (1: the order as first posted)")
    seats: int
    counts: dict[str, int]
    received_at: int
    finished_at: int | None = None
    course: dict[str, Any] | None = None
    operator: OperatorOutcome
    group: dict[str, Any] | None = None
    participants: list[ParticipantOutcome]
    warnings: list[str] = Field(default_factory=list)
    failure: dict[str, Any] | None = None
    cancellation: dict[str, Any] | None = None
    history: list[ChangeRecord] = Field(default_factory=list, description="Every change, in the order accepted")
    links: Links


def order_link(order_id: str) -> Links:
    return Links(self=f"/orders/{order_id}")


def read_order_report(order_id: str) -> OrderReport:
    store = order_store()
    order = store.get_order(order_id) if re.fullmatch(ORDER_ID_PATTERN, order_id) else None
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    participants = store.list_participants(order_id)
    counts: dict[str, int] = {"participants": sum(1 for p in participants if p.status != "REMOVED")}
    for status in ("PENDING", "ENROLLED", "NEEDS_REVIEW", "FAILED", "REMOVED"):
        counts[status.lower()] = sum(1 for p in participants if p.status == status)
    for name, value in order.counts.items():
        counts.setdefault(name, value)
    session = order.session or {}
    refused = set(order.group.get("refused_user_ids") or []) if order.group is not None else None
    return OrderReport(
        order_id=order.order_id,
        status=order.status,
        execution_name=order.execution_arn.rsplit(":", 1)[-1] if order.execution_arn else None,
        seats=order.seats,
        counts=counts,
        received_at=order.received_at,
        finished_at=order.finished_at,
        course=_course(session) if session else None,
        operator=_operator(order, session),
        group=order.group,
        participants=[_participant(p, refused) for p in participants],
        warnings=order.warnings,
        failure=order.failure,
        revision=order.revision,
        cancellation=order.cancellation,
        history=[_change(c) for c in store.list_changes(order_id)],
        links=order_link(order.order_id),
    )


def _change(change: ChangeItem) -> ChangeRecord:
    return ChangeRecord.model_validate(change.model_dump())


def _course(session: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("course_id", "course_shortname", "timestart", "timeend")
    return {k: session[k] for k in keys if k in session}


def _operator(order: OrderItem, session: Mapping[str, Any]) -> OperatorOutcome:
    person = order.operator
    return OperatorOutcome(
        firstname=person.firstname,
        lastname=person.lastname,
        email=person.email,
        account=session.get("operator_account"),
        moodle_user_id=session.get("operator_user_id"),
        username=session.get("operator_username"),
        erased_at=order.erased_at,
    )


def _participant(p: ParticipantItem, refused: set[int] | None) -> ParticipantOutcome:
    """`refused`: the user ids Moodle kept out of the order's group, or None before the group exists.
    FinalizeSession put every enrolled participant in the group, except those."""
    member = None if refused is None else (p.status == "ENROLLED" and p.moodle_user_id not in refused)
    return ParticipantOutcome(
        participant_key=p.participant_key,
        role=p.role,
        position=p.position,
        firstname=p.firstname,
        lastname=p.lastname,
        email=p.email,
        status=p.status,
        account=p.account,
        moodle_user_id=p.moodle_user_id,
        username=p.username,
        role_enrolled=p.role_shortname,
        attached_to_operator=p.attached_to_operator,
        group_member=member,
        reason=p.reason,
        warnings=p.warnings,
        erased_at=p.erased_at,
    )
