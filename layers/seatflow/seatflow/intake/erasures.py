"""POST /erasures: the shop asks seatflow to forget a person (`{"email": ...}`); the rules are seatflow.privacy."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from seatflow.intake.clients import order_store
from seatflow.intake.errors import IntakeError
from seatflow.privacy import ErasureReport, PersonBusy, erase_person


def _trim(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class ErasureRequest(BaseModel):
    """The person to forget, by the email the shop sent them with (compared case-insensitively)."""

    model_config = ConfigDict(extra="forbid")

    # Not re-checked as an order's email is: an address accepted long ago must stay erasable.
    email: Annotated[str, BeforeValidator(_trim), Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


class ErasurePostponed(IntakeError):
    status = 409
    error = "erasure_postponed"


def erase_personal_data(request: ErasureRequest) -> ErasureReport:
    """Erase the person everywhere; 409 with Retry-After while one of their orders is being fulfilled."""
    try:
        return erase_person(order_store(), request.email)
    except PersonBusy as busy:
        refusal = ErasurePostponed(f"{busy}; send the same request again later")
        refusal.retry_after = busy.retry_after
        raise refusal from None
