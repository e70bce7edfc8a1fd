"""What tests read from the sandbox's state, beyond what the web services answer: the site's rows as they are,
and how many calls and faults the sandbox served. Moodle has no such views; the store offers them to tests."""

from __future__ import annotations

from collections import Counter
from typing import TypedDict

from . import fixture
from .db import Database, UserRecord
from .ws.groups import GroupRecord, group_record

CONTEXT_LEVEL_NAMES = {level: name for name, level in fixture.CONTEXT_LEVELS.items()}


class EnrolmentView(TypedDict):
    user_id: int
    role_ids: list[int]
    timestart: int
    timeend: int
    suspended: bool


class RoleAssignmentView(TypedDict):
    role_id: int
    user_id: int
    context_id: int
    contextlevel: str
    instance_id: int


class Inspection:
    """The views, for a class holding the site's database and the call and fault counters."""

    db: Database
    calls: Counter[str]
    faults: int

    def users(self) -> list[UserRecord]:
        with self.db.lock:
            return self.db.all_users()

    def enrolments(self, course_id: int) -> list[EnrolmentView]:
        """The course's enrolments with the roles held in the course, by user id."""
        db = self.db
        with db.lock:
            course = db.course(course_id)
            if course is None:
                return []
            out: list[EnrolmentView] = []
            for e in db.execute(
                "SELECT * FROM user_enrolments WHERE course_id = ? ORDER BY user_id", (course_id,)
            ).fetchall():
                roles = [
                    r["role_id"]
                    for r in db.execute(
                        "SELECT role_id FROM role_assignments WHERE user_id = ? AND context_id = ? ORDER BY role_id",
                        (e["user_id"], course["context_id"]),
                    )
                ]
                out.append(
                    {
                        "user_id": e["user_id"],
                        "role_ids": roles,
                        "timestart": e["timestart"],
                        "timeend": e["timeend"],
                        "suspended": bool(e["status"]),
                    }
                )
            return out

    def role_assignments(self, contextlevel: str | int | None = None) -> list[RoleAssignmentView]:
        """Every role assignment, or those at one context level (by name, e.g. ``"user"``, or number)."""
        level = (
            fixture.CONTEXT_LEVELS.get(contextlevel, contextlevel) if isinstance(contextlevel, str) else contextlevel
        )
        with self.db.lock:
            out: list[RoleAssignmentView] = []
            for a in self.db.execute("SELECT * FROM role_assignments ORDER BY context_id, user_id, role_id").fetchall():
                found = self.db.context(a["context_id"])
                if found is None or (level is not None and found[0] != level):
                    continue
                out.append(
                    {
                        "role_id": a["role_id"],
                        "user_id": a["user_id"],
                        "context_id": a["context_id"],
                        "contextlevel": CONTEXT_LEVEL_NAMES[found[0]],
                        "instance_id": found[1],
                    }
                )
            return out

    def groups(self, course_id: int) -> list[GroupRecord]:
        """The course's groups in creation order."""
        with self.db.lock:
            rows = self.db.execute("SELECT * FROM groups_ WHERE course_id = ? ORDER BY id", (course_id,))
            return [group_record(r) for r in rows]

    def group_members(self, group_id: int) -> list[int]:
        with self.db.lock:
            return sorted(
                r["user_id"]
                for r in self.db.execute("SELECT user_id FROM group_members WHERE group_id = ?", (group_id,))
            )

    def last_user_id(self) -> int:
        """The last id the user sequence gave out, to a user who exists or to one a refused batch rolled back."""
        return self.db.last_id("users")

    def call_count(self, wsfunction: str | None = None) -> int:
        """Calls to the REST endpoint since the last reset, of one function or of all."""
        with self.db.lock:
            return self.calls[wsfunction] if wsfunction else sum(self.calls.values())

    def faults_injected(self) -> int:
        """How many calls answered a fault (503, hang, HTML page) since the last reset."""
        with self.db.lock:
            return self.faults
