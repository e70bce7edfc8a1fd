"""What resolving one person's account came to, and the words a person reads when it needs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from seatflow.moodle import MoodleUser

Outcome = Literal["created", "reused", "ambiguous", "suspended", "vanished", "refused"]


class AccountCreationInProgress(Exception):
    """Another order is creating the account of this email right now; retried by the workflow."""


@dataclass
class AccountResolution:
    outcome: Outcome
    user: MoodleUser | None = None
    candidates: list[str] = field(default_factory=list)
    refusal: str | None = None  # Moodle's words when it refused to create this account
    refusal_code: str | None = None  # Moodle's errorcode then

    @property
    def reason_code(self) -> str | None:
        """A short code for the console and metrics (no email, no name)."""
        codes = {"ambiguous": "ambiguous_email", "suspended": "suspended_account", "vanished": "account_vanished"}
        if self.outcome == "refused":
            return f"create_refused:{self.refusal_code or 'unknown'}"
        return codes.get(self.outcome)

    @property
    def usable(self) -> bool:
        return self.user is not None and self.outcome in ("created", "reused")

    @property
    def reason(self) -> str | None:
        if self.outcome == "ambiguous":
            return (
                f"this email matches {len(self.candidates)} Moodle accounts ({', '.join(self.candidates)}); "
                "seatflow does not guess: merge them or change the email, then retry the order"
            )
        if self.outcome == "suspended":
            return (
                f"the Moodle account {self.candidates[0]} of this email is suspended; reactivate it, "
                "then retry the order"
            )
        if self.outcome == "vanished":
            return (
                f"seatflow created account {self.candidates[0]} for this email, but Moodle no longer finds it "
                "by email (deleted, or email changed)"
            )
        if self.outcome == "refused":
            return f"Moodle refused to create the account: {self.refusal}"
        return None
