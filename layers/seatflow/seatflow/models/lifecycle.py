"""What the lifecycle adds to the stored order and participants, and the items it stores of its own: each change
accepted (created, amended, retried, cancelled) and the ledger of what orders granted each Moodle user in a course.

The order-side fields are mixins of OrderItem and ParticipantItem (seatflow.models.order); the rules that use them
are seatflow.lifecycle.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# What a change left to do to one participant: provision it (find or create the account, enrol it), switch its
# role, give its enrolment the session's new dates, or withdraw what the order granted it.
ParticipantWork = Literal["provision", "switch", "redate", "withdraw"]
ChangeKind = Literal["created", "amended", "retried", "cancelled"]
ChangeState = Literal["QUEUED", "RUNNING", "DONE"]


class OrderLifecycle(BaseModel):
    """The order item's lifecycle fields: the last revision accepted, how many changes were accepted (each a
    CHANGE# item), how many of them were retries, the change whose execution holds the order's turn (at most one
    runs at a time), and the cancellation once requested (after it, no amendment or retry is accepted)."""

    revision: int = 1
    change_count: int = 1
    retry_count: int = 0
    active_change: int | None = None
    cancellation: dict[str, Any] | None = None


class ParticipantLifecycle(BaseModel):
    """The participant item's lifecycle field: what a change left to do to it (None: nothing, or provisioning
    while its status is PENDING)."""

    todo: ParticipantWork | None = None


class ChangeItem(BaseModel):
    """One change accepted for an order (PK `ORDER#<id>`, SK `CHANGE#<seq>`), the order's history."""

    order_id: str
    seq: int
    kind: ChangeKind
    revision: int
    accepted_at: int
    execution_name: str
    state: ChangeState = "QUEUED"
    started_at: int | None = None
    finished_at: int | None = None
    outcome: str | None = None
    body_sha256: str | None = Field(default=None, description="amended, created: the revision's body")
    body_key: str | None = Field(default=None, description="amended: where its body waits (S3 key)")
    seats: int | None = None
    reason: str | None = Field(default=None, description="cancelled: the shop's reason")
    summary: dict[str, int] = Field(default_factory=dict, description="what the change did, counted")
    handed_to: int | None = Field(default=None, description="the change that got the turn after this one")


class Grant(BaseModel):
    """What one order granted one Moodle user in one course, for one holder (a participant, the operator, the
    operator in the support course): the roles and the enrolment dates it asked for."""

    order_id: str
    holder: str
    roles: list[int]
    timestart: int = 0
    timeend: int = 0

    @property
    def key(self) -> str:
        return grant_key(self.order_id, self.holder)


def grant_key(order_id: str, holder: str) -> str:
    return f"{order_id}/{holder}"  # '/' is in no order id nor holder


class EnrolmentLedger(BaseModel):
    """Every grant standing on one Moodle user in one course (PK `USER#<id>`, SK `COURSE#<id>`), and what Moodle held
    before seatflow's first grant there: an enrolment of someone else's (`external`) and its roles."""

    user_id: int
    course_id: int
    external: bool = False
    roles_before: list[int] = Field(default_factory=list)
    grants: dict[str, Grant] = Field(default_factory=dict)
