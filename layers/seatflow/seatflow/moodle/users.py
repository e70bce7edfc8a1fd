"""Moodle accounts, a batch at a time: who holds these emails, which usernames are free, create these people.

Facts from ``shared/moodle-ws`` that shape this module:
- ``core_user_get_users``' ``email`` criterion is a case-insensitive LIKE in which ``_`` and ``%`` are wildcards
  (escaped here with ``\\``, Moodle's ``sql_like`` escape), and several criteria are ANDed: one call per email,
  or one per domain (``%@acme.example``) that sees every case variant of every address of the domain.
- ``core_user_get_users_by_field`` is exact and case-sensitive, answers in id order, and refuses the whole call
  for one invalid value.
- ``core_user_create_users`` is atomic, but mails each user's password as it is inserted: a batch refused at its
  13th user has already mailed 12 people about accounts that do not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .client import MoodleClient
from .models import MoodleUser

# Moodle's column lengths (user): longer values fail with a database write error.
FIELD_LENGTHS = {
    "firstname": 100,
    "lastname": 100,
    "email": 100,
    "city": 120,
    "institution": 255,
    "phone1": 20,
}
# A domain is looked up as a whole when a batch holds at least this many of its addresses...
DOMAIN_LOOKUP_MIN = 3
# ...until Moodle answers it with more accounts than this: Moodle builds each user's details, so a big domain's
# answer costs more than a batch's lookups one by one. Remembered for the container's life (warm invocations).
DOMAIN_ANSWER_MAX = 1_000
_big_domains: set[str] = set()
# ...unless it is a public mail provider, whose population would make the answer huge.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.fr",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.fr",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "wanadoo.fr",
        "sfr.fr",
        "proton.me",
        "protonmail.com",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
    }
)


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].casefold() if "@" in email else ""


def lookup_queries(emails: Iterable[str], domain_min: int = DOMAIN_LOOKUP_MIN) -> list[str]:
    """The ``email`` LIKE patterns that cover ``emails``: one per busy private domain, one per other email."""
    wanted = list(dict.fromkeys(e.strip() for e in emails if e.strip()))
    by_domain: dict[str, list[str]] = {}
    for email in wanted:
        by_domain.setdefault(_domain(email), []).append(email)
    queries: list[str] = []
    for domain, addresses in by_domain.items():
        if domain and len(addresses) >= domain_min and domain not in PUBLIC_MAIL_DOMAINS | _big_domains:
            queries.append("%@" + _like_literal(domain))
        else:
            queries.extend(_like_literal(address) for address in addresses)
    return queries


def find_accounts_by_emails(
    client: MoodleClient, emails: Iterable[str], domain_min: int = DOMAIN_LOOKUP_MIN
) -> dict[str, list[MoodleUser]]:
    """Every account of each email, compared ignoring case (suspended ones included), keyed by casefolded email.

    An email nobody holds maps to ``[]``; more than one account means the match is ambiguous.
    """
    wanted = {e.strip().casefold() for e in emails if e.strip()}
    found: dict[str, dict[int, MoodleUser]] = {email: {} for email in wanted}
    for query in lookup_queries(wanted, domain_min):
        answer = client.call("core_user_get_users", {"criteria": [{"key": "email", "value": query}]})
        if query.startswith("%@") and len(answer.get("users", [])) > DOMAIN_ANSWER_MAX:
            _big_domains.add(query[2:].replace("\\", ""))
        for raw in answer.get("users", []):
            user = MoodleUser.model_validate(raw)
            key = user.email.strip().casefold()
            if key in found:
                found[key][user.id] = user
    return {email: sorted(users.values(), key=lambda u: u.id) for email, users in found.items()}


def find_accounts_by_email(client: MoodleClient, email: str) -> list[MoodleUser]:
    """Every account whose email equals ``email`` ignoring case (suspended ones included). One call."""
    return find_accounts_by_emails(client, [email]).get(email.strip().casefold(), [])


def taken_usernames(client: MoodleClient, usernames: Sequence[str]) -> set[str]:
    """Which of ``usernames`` exist already (one ``core_user_get_users_by_field`` call)."""
    if not usernames:
        return set()
    answer = client.call("core_user_get_users_by_field", {"field": "username", "values": list(usernames)})
    return {u["username"] for u in answer}


def _clip(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[: FIELD_LENGTHS[name]] if value else None


@dataclass(frozen=True)
class NewAccount:
    """A manual account to create; Moodle generates the password and mails it (``createpassword``)."""

    username: str
    firstname: str
    lastname: str
    email: str
    city: str | None = None
    institution: str | None = None
    phone: str | None = None

    def as_moodle_user(self) -> dict[str, Any]:
        user = {
            "username": self.username,
            "firstname": _clip(self.firstname, "firstname"),
            "lastname": _clip(self.lastname, "lastname"),
            "email": _clip(self.email, "email"),
            "auth": "manual",
            "createpassword": True,
            "city": _clip(self.city, "city"),
            "institution": _clip(self.institution, "institution"),
            "phone1": _clip(self.phone, "phone1"),
        }
        return {k: v for k, v in user.items() if v is not None}


def create_accounts(client: MoodleClient, accounts: Sequence[NewAccount]) -> list[MoodleUser]:
    """Create ``accounts`` in one ``core_user_create_users`` call (all or nothing); Moodle's ids, in order."""
    if not accounts:
        return []
    users = [a.as_moodle_user() for a in accounts]
    created = client.call("core_user_create_users", {"users": users})
    return [
        MoodleUser(
            id=int(answer["id"]),
            username=answer["username"],
            firstname=user.get("firstname", ""),
            lastname=user.get("lastname", ""),
            email=user.get("email", ""),
        )
        for answer, user in zip(created, users, strict=True)
    ]
