"""The recordings' ``db_check`` facts (what PostgreSQL and the SMTP catcher held after a call), read back from the
sandbox's state: each fact the recorder wrote has a pattern here, and a fact no pattern reads is a difference.

A fact is ``<what>: <value>`` (or ``<what> = <value>``, ``<user> rows <value>``); facts are joined by ``"; "``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from seatflow_local.sandbox import Sandbox, fixture

COURSE_IDS = {c["shortname"]: c["id"] for c in fixture.COURSES}
ROLE_IDS = {shortname: role_id for role_id, shortname, _, _ in fixture.ROLES}
ENROLMENT_ROW = r"(\d+:\d+:\d+)"  # status:timestart:timeend


@dataclass
class Reading:
    """What one call left behind: the sandbox after it, and how many mails were in the outbox before it."""

    sandbox: Sandbox
    mails_before: int
    subject: str = ""  # the user the last fact named ("roles in SPOCM1 context" are that user's)

    def user_id(self, username: str) -> int | None:
        return next((u["id"] for u in self.sandbox.state.users() if u["username"] == username), None)

    def enrolment_row(self, username: str, course: str = "SPOCM1") -> str:
        self.subject = username
        for e in self.sandbox.state.enrolments(COURSE_IDS[course]):
            if e["user_id"] == self.user_id(username):
                return f"{int(e['suspended'])}:{e['timestart']}:{e['timeend']}"
        return "no row"

    def roles_in(self, course: str) -> str:
        rows = self.sandbox.state.enrolments(COURSE_IDS[course])
        return ",".join(str(r) for e in rows if e["user_id"] == self.user_id(self.subject) for r in e["role_ids"])

    def rows_in(self, username: str, course: str) -> str:
        return str(
            sum(e["user_id"] == self.user_id(username) for e in self.sandbox.state.enrolments(COURSE_IDS[course]))
        )

    def user_context_assignments(self, username: str) -> str:
        held = self.sandbox.state.role_assignments("user")
        return str(sum(a["user_id"] == self.user_id(username) for a in held))

    def role_holders(self, role: str, prefix: str, first: int, last: int, course: str) -> str:
        ids = {self.user_id(f"{prefix}{n:02d}") for n in range(first, last + 1)}
        rows = self.sandbox.state.enrolments(COURSE_IDS[course])
        return str(sum(e["user_id"] in ids and ROLE_IDS[role] in e["role_ids"] for e in rows))

    def groups_by_idnumber(self, pattern: str) -> str:
        groups = [g for c in COURSE_IDS.values() for g in self.sandbox.state.groups(c)]
        return str(sum(bool(like(pattern).fullmatch(g["idnumber"])) for g in groups))

    def members(self, letter: str) -> str:
        groups = [g for c in COURSE_IDS.values() for g in self.sandbox.state.groups(c)]
        found = [g for g in groups if g["name"] == f"B25 group {letter}"]
        return str(len(self.sandbox.state.group_members(found[0]["id"]))) if found else "no such group"


def like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as the recorder's psql used it: ``%`` any run, ``_`` one character."""
    return re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern))


# (pattern of the fact, what the sandbox holds for it): the value is compared with the fact's last group.
FACTS: list[tuple[str, Callable[[Reading, re.Match[str]], str]]] = [
    (r"mails sent during the call: (\d+)", lambda r, m: str(len(r.sandbox.outbox) - r.mails_before)),
    (
        r"users (\S+): (\d+)",
        lambda r, m: str(sum(bool(like(m[1]).fullmatch(u["username"])) for u in r.sandbox.state.users())),
    ),
    (r"user id sequence now (\d+)", lambda r, m: str(r.sandbox.state.last_user_id())),
    (
        r"with email (\S+): (\S+)",
        lambda r, m: ",".join(u["username"] for u in r.sandbox.state.users() if u["email"] == m[1]),
    ),
    (r"(\w+) user_enrolments: (\d+)", lambda r, m: str(len(r.sandbox.state.enrolments(COURSE_IDS[m[1]])))),
    (rf"(\S+) (?:rows )?status:timestart:timeend = {ENROLMENT_ROW}", lambda r, m: r.enrolment_row(m[1])),
    (rf"(\S+) rows {ENROLMENT_ROW}", lambda r, m: r.enrolment_row(m[1])),
    (rf"(\S+) in (\w+): {ENROLMENT_ROW}", lambda r, m: r.enrolment_row(m[1], m[2])),
    (r"roles in (\w+) context: ([\d,]*)", lambda r, m: r.roles_in(m[1])),
    (r"(\S+) enrolled in (\w+): (\d+) rows in \w+", lambda r, m: r.rows_in(m[1], m[2])),
    (r"(\S+) role assignments at user contexts: (\d+)", lambda r, m: r.user_context_assignments(m[1])),
    (
        r"(\w+) assignments of (\S+?)(\d+)\.\.(\d+) in (\w+): (\d+)",
        lambda r, m: r.role_holders(m[1], m[2], int(m[3]), int(m[4]), m[5]),
    ),
    (r"groups with idnumber (\S+): (\d+)", lambda r, m: r.groups_by_idnumber(m[1])),
    (r"group ([A-Z]) members: (\d+)", lambda r, m: r.members(m[1])),
]


def db_check_differences(reading: Reading, db_check: str) -> list[str]:
    """Each fact of ``db_check`` the sandbox does not hold, or cannot read."""
    found = []
    for fact in db_check.split("; "):
        for pattern, actual in FACTS:
            match = re.fullmatch(pattern, fact)
            if match:
                value = actual(reading, match)
                if value != match[match.lastindex or 0]:
                    found.append(f"db_check {fact!r}: the sandbox holds {value!r}")
                break
        else:
            found.append(f"db_check {fact!r}: no reading of it")
    return found
