"""What the Moodle peer really holds: readable queries on Moodle's own tables, and the mails its SMTP catcher kept.

Assertions read Moodle's database (MOODLE_PG) rather than its web services, so that they cannot share a blind
spot with the client under test. psycopg is imported on first use: without a peer, nothing here is needed.
"""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

CONTEXT_USER, CONTEXT_COURSE = 30, 50
NEW_ACCOUNT_SUBJECT = "New user account"


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    email: str
    firstname: str
    lastname: str


@dataclass(frozen=True)
class Enrolment:
    user_id: int
    username: str
    email: str
    timestart: int
    timeend: int
    roles: frozenset[str]  # the user's roles in the course context


class MoodleDb:
    """Queries on one Moodle database (`dsn`, e.g. postgresql://moodle:...@127.0.0.1:5433/moodle) and its mails."""

    def __init__(self, dsn: str, mail_dir: str | Path) -> None:
        self.dsn = dsn
        self.mail_dir = Path(mail_dir)

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        # One short connection per query: a reset drops the database, so no connection may outlive a test.
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    # -- accounts --------------------------------------------------------------------------------------------
    def accounts_by_email(self, address: str) -> list[Account]:
        """Every live account whose email is `address`, compared as Moodle does: case-insensitively."""
        rows = self._rows(
            "SELECT id, username, email, firstname, lastname FROM mdl_user"
            " WHERE deleted = 0 AND lower(email) = lower(%s) ORDER BY id",
            (address,),
        )
        return [Account(*row) for row in rows]

    def account_count_by_email(self) -> Counter[str]:
        """Live accounts per lower-cased email, over the whole site."""
        rows = self._rows("SELECT lower(email), count(*) FROM mdl_user WHERE deleted = 0 GROUP BY lower(email)")
        return Counter({address: count for address, count in rows})

    def user_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM mdl_user WHERE deleted = 0")[0][0])

    # -- courses ---------------------------------------------------------------------------------------------
    def enrolments(self, course_shortname: str) -> dict[str, Enrolment]:
        """The course's manual enrolments, by the user's lower-cased email, with their roles in the course."""
        rows = self._rows(
            """
            SELECT u.id, u.username, lower(u.email), ue.timestart, ue.timeend,
                   coalesce(array_agg(DISTINCT r.shortname) FILTER (WHERE r.id IS NOT NULL), '{}')
              FROM mdl_course c
              JOIN mdl_enrol e ON e.courseid = c.id AND e.enrol = 'manual'
              JOIN mdl_user_enrolments ue ON ue.enrolid = e.id
              JOIN mdl_user u ON u.id = ue.userid
              JOIN mdl_context ctx ON ctx.contextlevel = %s AND ctx.instanceid = c.id
              LEFT JOIN mdl_role_assignments ra ON ra.contextid = ctx.id AND ra.userid = u.id
              LEFT JOIN mdl_role r ON r.id = ra.roleid
             WHERE c.shortname = %s
             GROUP BY u.id, u.username, u.email, ue.timestart, ue.timeend
            """,
            (CONTEXT_COURSE, course_shortname),
        )
        return {row[2]: Enrolment(row[0], row[1], row[2], row[3], row[4], frozenset(row[5])) for row in rows}

    # -- groups ----------------------------------------------------------------------------------------------
    def group_members(self, idnumber: str) -> set[str]:
        """Lower-cased emails of the members of the group whose idnumber is `idnumber` (seatflow: the order id)."""
        rows = self._rows(
            """
            SELECT lower(u.email) FROM mdl_groups g
              JOIN mdl_groups_members gm ON gm.groupid = g.id
              JOIN mdl_user u ON u.id = gm.userid
             WHERE g.idnumber = %s
            """,
            (idnumber,),
        )
        return {row[0] for row in rows}

    def group_members_by_name(self, course_shortname: str, name: str) -> set[str]:
        """The same, for a group found by its name in a course (tool_uploaduser names groups, gives no idnumber)."""
        rows = self._rows(
            """
            SELECT lower(u.email) FROM mdl_course c
              JOIN mdl_groups g ON g.courseid = c.id AND g.name = %s
              JOIN mdl_groups_members gm ON gm.groupid = g.id
              JOIN mdl_user u ON u.id = gm.userid
             WHERE c.shortname = %s
            """,
            (name, course_shortname),
        )
        return {row[0] for row in rows}

    # -- delegated administration ----------------------------------------------------------------------------
    def user_context_roles(self, holder_id: int) -> dict[int, set[str]]:
        """The roles `holder_id` holds in other users' contexts: {the user whose context it is: {role shortnames}}."""
        rows = self._rows(
            """
            SELECT ctx.instanceid, r.shortname FROM mdl_role_assignments ra
              JOIN mdl_context ctx ON ctx.id = ra.contextid AND ctx.contextlevel = %s
              JOIN mdl_role r ON r.id = ra.roleid
             WHERE ra.userid = %s
            """,
            (CONTEXT_USER, holder_id),
        )
        roles: dict[int, set[str]] = {}
        for user_id, shortname in rows:
            roles.setdefault(user_id, set()).add(shortname)
        return roles

    # -- mails -----------------------------------------------------------------------------------------------
    def mails(self) -> list[EmailMessage]:
        """Every mail the peer's SMTP catcher kept since the last reset, oldest first."""
        messages = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            with path.open("rb") as handle:
                message = email.message_from_binary_file(handle, policy=email.policy.default)
            messages.append(message)  # type: ignore[arg-type]
        return messages  # type: ignore[return-value]

    def mails_to(self, address: str) -> list[EmailMessage]:
        """The mails whose envelope recipients (X-Peer-Rcpt-To) include `address`, case-insensitively."""
        wanted = address.lower()
        return [m for m in self.mails() if wanted in _recipients(m)]

    def new_account_mails(self) -> Counter[str]:
        """How many "New user account" mails each (lower-cased) recipient got."""
        counts: Counter[str] = Counter()
        for message in self.mails():
            if NEW_ACCOUNT_SUBJECT in str(message["Subject"] or ""):
                counts.update(_recipients(message))
        return counts


def _recipients(message: EmailMessage) -> list[str]:
    return [r.strip().lower() for r in str(message["X-Peer-Rcpt-To"] or "").split(",") if r.strip()]
