"""Personal data in the stored items: the person as stored, and the hash that says whom an item is about.

Every item holding a person's data carries `email_hash`, the SHA-256 of their normalised email: the table's
`ByEmailHash` index finds all of them for an erasure, and it stays when the data goes, so exactly-once
(amendments, replays, a repeated erasure) still recognises the person. Erased fields hold ERASED ("").
See docs/decisions/0012-personal-data.md.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict

ERASED = ""

# What an erasure takes from a participant item (everything else is ids, keys, statuses and Moodle ids).
PARTICIPANT_PERSONAL_FIELDS = ("firstname", "lastname", "email", "email_norm")
PARTICIPANT_OPTIONAL_PERSONAL_FIELDS = ("city", "institution", "phone", "username", "candidates", "reason")


def email_hash(email: str) -> str:
    """SHA-256 (hex) of the email normalised as `models.order.normalise_email` does: trimmed, casefolded."""
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()


class StoredPerson(BaseModel):
    """The operator as the order item holds them: what the shop sent, not checked again on every read (rules
    may tighten after an order was accepted), and empty strings once erased."""

    model_config = ConfigDict(from_attributes=True)

    firstname: str
    lastname: str
    email: str
    city: str | None = None
    institution: str | None = None
    phone: str | None = None

    @classmethod
    def erased(cls) -> StoredPerson:
        return cls(firstname=ERASED, lastname=ERASED, email=ERASED)
