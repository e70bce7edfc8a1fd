"""What the Moodle peer really holds: readable queries on Moodle's own tables, and the mails its SMTP catcher kept.

Assertions read Moodle's database (MOODLE_PG) rather than its web services, so that they cannot share a blind
spot with the client under test. psycopg is imported on first use: without a peer, nothing here is needed.
"""

from __future__ import annotations

import email
import email.policy
import time
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


@dataclass(frozen=True)
class UserEnrolment:
    """One row of mdl_user_enrolments as it is: its id and last change say whether anyone touched it since."""

    id: int
    course: str
    method: str
    status: int  # 0 active, 1 suspended
    timestart: int
    timeend: int  # 0: no end
    timemodified: int
    roles: frozenset[str]  # the user's roles in the course context, enrolled by this row or not


@dataclass(frozen=True)
class AccountState:
    id: int
    username: str
    email: str
    suspended: bool
    deleted: bool


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

    def accounts_by_id(self, user_ids: list[int]) -> dict[int, AccountState]:
        """These accounts as mdl_user holds them, deleted or not (a missing id is simply absent)."""
        rows = self._rows(
            "SELECT id, username, lower(email), suspended = 1, deleted = 1 FROM mdl_user WHERE id = ANY(%s)",
            (list(user_ids),),
        )
        return {row[0]: AccountState(*row) for row in rows}

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

    def enrolments_of(self, user_id: int) -> dict[str, UserEnrolment]:
        """Every enrolment row of one user, by course shortname, whatever the method or status."""
        rows = self._rows(
            """
            SELECT ue.id, c.shortname, e.enrol, ue.status, ue.timestart, ue.timeend, ue.timemodified,
                   coalesce(array_agg(DISTINCT r.shortname) FILTER (WHERE r.id IS NOT NULL), '{}')
              FROM mdl_user_enrolments ue
              JOIN mdl_enrol e ON e.id = ue.enrolid
              JOIN mdl_course c ON c.id = e.courseid
              JOIN mdl_context ctx ON ctx.contextlevel = %s AND ctx.instanceid = c.id
              LEFT JOIN mdl_role_assignments ra ON ra.contextid = ctx.id AND ra.userid = ue.userid
              LEFT JOIN mdl_role r ON r.id = ra.roleid
             WHERE ue.userid = %s
             GROUP BY ue.id, c.shortname, e.enrol
            """,
            (CONTEXT_COURSE, user_id),
        )
        found = [UserEnrolment(*row[:7], frozenset(row[7])) for row in rows]
        by_course = {e.course: e for e in found}
        assert len(by_course) == len(found), f"user {user_id} has two enrolments in one course: {found}"
        return by_course

    def course_roles(self, course_shortname: str, user_id: int) -> set[str]:
        """The user's role assignments in the course's context, enrolled or not (a role can outlive an enrolment)."""
        rows = self._rows(
            """
            SELECT r.shortname FROM mdl_course c
              JOIN mdl_context ctx ON ctx.contextlevel = %s AND ctx.instanceid = c.id
              JOIN mdl_role_assignments ra ON ra.contextid = ctx.id AND ra.userid = %s
              JOIN mdl_role r ON r.id = ra.roleid
             WHERE c.shortname = %s
            """,
            (CONTEXT_COURSE, user_id, course_shortname),
        )
        return {row[0] for row in rows}

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

    def groups(self, course_shortname: str) -> dict[str, set[int]]:
        """Every group of the course, empty ones too: {idnumber: {member user ids}}."""
        rows = self._rows(
            """
            SELECT g.idnumber, gm.userid FROM mdl_course c
              JOIN mdl_groups g ON g.courseid = c.id
              LEFT JOIN mdl_groups_members gm ON gm.groupid = g.id
             WHERE c.shortname = %s
            """,
            (course_shortname,),
        )
        groups: dict[str, set[int]] = {}
        for idnumber, user_id in rows:
            members = groups.setdefault(idnumber, set())
            if user_id is not None:
                members.add(user_id)
        return groups

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

    def roles_in_context_of(self, user_id: int) -> dict[int, set[str]]:
        """Who holds roles in `user_id`'s own user context: {holder: {role shortnames}} (the reverse view)."""
        rows = self._rows(
            """
            SELECT ra.userid, r.shortname FROM mdl_role_assignments ra
              JOIN mdl_context ctx ON ctx.id = ra.contextid AND ctx.contextlevel = %s AND ctx.instanceid = %s
              JOIN mdl_role r ON r.id = ra.roleid
            """,
            (CONTEXT_USER, user_id),
        )
        holders: dict[int, set[str]] = {}
        for holder, shortname in rows:
            holders.setdefault(holder, set()).add(shortname)
        return holders

    # -- what a scenario left --------------------------------------------------------------------------------
    def describe(self, courses: tuple[str, ...] = ("SPOCM1", "SUPPORT")) -> str:
        """A readable table of what matters after a scenario: the courses' enrolment rows with dates and roles,
        their groups, every role held in a user context, and the accounts suspended or deleted (carol is, in the
        fixture)."""
        lines = []
        for course in courses:
            for user_id, username in self._rows(
                """
                SELECT DISTINCT u.id, u.username FROM mdl_course c
                  JOIN mdl_enrol e ON e.courseid = c.id
                  JOIN mdl_user_enrolments ue ON ue.enrolid = e.id
                  JOIN mdl_user u ON u.id = ue.userid
                 WHERE c.shortname = %s ORDER BY u.id
                """,
                (course,),
            ):
                e = self.enrolments_of(user_id)[course]
                lines.append(
                    f"enrolment {course:<7} {user_id:>3} {username:<32} {_date(e.timestart)}..{_date(e.timeend):<10}"
                    f" {'active' if e.status == 0 else 'suspended'} {','.join(sorted(e.roles))}"
                )
            for idnumber, members in sorted(self.groups(course).items()):
                lines.append(f"group     {course:<7} {idnumber}: members {sorted(members)}")
        for holder, context_user, role in self._rows(
            """
            SELECT ra.userid, ctx.instanceid, r.shortname FROM mdl_role_assignments ra
              JOIN mdl_context ctx ON ctx.id = ra.contextid AND ctx.contextlevel = %s
              JOIN mdl_role r ON r.id = ra.roleid ORDER BY 1, 2
            """,
            (CONTEXT_USER,),
        ):
            lines.append(f"user ctx  user {holder} is {role} in the context of user {context_user}")
        for user_id, username, suspended, deleted in self._rows(
            "SELECT id, username, suspended, deleted FROM mdl_user WHERE suspended = 1 OR deleted = 1 ORDER BY id"
        ):
            lines.append(f"account   {user_id} {username}: suspended={suspended} deleted={deleted}")
        return "\n".join(lines)

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


def _date(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp)) if timestamp else "none"


def _recipients(message: EmailMessage) -> list[str]:
    return [r.strip().lower() for r in str(message["X-Peer-Rcpt-To"] or "").split(",") if r.strip()]
