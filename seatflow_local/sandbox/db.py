"""The sandbox site's database: SQLite in memory, its schema, one lock, Moodle's transactions and sequences,
and the record lookups the web-service functions share.

One connection guarded by one lock; each web-service call runs in one transaction (Moodle's delegated
transactions), and ids come from sequences that a rollback does not give back (as on PostgreSQL).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from . import fixture

# A user as stored: Moodle's user record, whose optional profile fields are present only when set.
UserRecord = dict[str, Any]

SYSTEM_CONTEXT_ID = 1
SYSTEM, USER, COURSE = (
    fixture.CONTEXT_LEVELS["system"],
    fixture.CONTEXT_LEVELS["user"],
    fixture.CONTEXT_LEVELS["course"],
)

SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL,
                    data TEXT NOT NULL);
CREATE INDEX users_email ON users (email);
CREATE TABLE courses (id INTEGER PRIMARY KEY, shortname TEXT NOT NULL, idnumber TEXT NOT NULL,
                      context_id INTEGER NOT NULL, manual_enabled INTEGER NOT NULL, sortorder INTEGER NOT NULL,
                      data TEXT NOT NULL);
CREATE TABLE roles (id INTEGER PRIMARY KEY, shortname TEXT NOT NULL, name TEXT NOT NULL, levels TEXT NOT NULL);
CREATE TABLE user_enrolments (course_id INTEGER NOT NULL, user_id INTEGER NOT NULL, status INTEGER NOT NULL,
                              timestart INTEGER NOT NULL, timeend INTEGER NOT NULL,
                              PRIMARY KEY (course_id, user_id));
CREATE TABLE role_assignments (role_id INTEGER NOT NULL, user_id INTEGER NOT NULL, context_id INTEGER NOT NULL,
                               PRIMARY KEY (role_id, user_id, context_id));
CREATE TABLE groups_ (id INTEGER PRIMARY KEY, course_id INTEGER NOT NULL, name TEXT NOT NULL,
                      description TEXT NOT NULL, descriptionformat INTEGER NOT NULL, enrolmentkey TEXT,
                      idnumber TEXT NOT NULL, visibility INTEGER NOT NULL, participation INTEGER NOT NULL);
CREATE TABLE group_members (group_id INTEGER NOT NULL, user_id INTEGER NOT NULL, PRIMARY KEY (group_id, user_id));
"""
TABLES = ("users", "courses", "roles", "user_enrolments", "role_assignments", "groups_", "group_members")


class Database:
    """The site's tables, holding the recordings' fixture from the start (and after each ``reset()``)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        self.connection.executescript(SCHEMA)
        self._sequences: dict[str, int] = {}
        self.reset()

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, args)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One delegated transaction: everything or nothing (a sequence keeps the ids it gave out)."""
        with self.lock:
            self.execute("BEGIN")
            try:
                yield
            except BaseException:
                self.execute("ROLLBACK")
                raise
            self.execute("COMMIT")

    def next_id(self, sequence: Literal["users", "groups"]) -> int:
        with self.lock:
            taken = self._sequences[sequence]
            self._sequences[sequence] = taken + 1
            return taken

    def last_id(self, sequence: Literal["users", "groups"]) -> int:
        """The last id the sequence gave out (PostgreSQL's ``last_value``), rolled back or not."""
        with self.lock:
            return self._sequences[sequence] - 1

    def reset(self) -> None:
        """Back to the recordings' fixture (users 1-8, courses 1-4, no enrolments, no groups)."""
        with self.lock, self.transaction():
            for table in TABLES:
                self.execute(f"DELETE FROM {table}")
            for user in fixture.USERS:
                self.insert_user(user)
            for course in fixture.COURSES:
                course_id: int = course["id"]
                self.execute(
                    "INSERT INTO courses VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        course_id,
                        course["shortname"],
                        course["idnumber"],
                        fixture.COURSE_CONTEXTS[course_id],
                        int(fixture.MANUAL_ENROL_ENABLED[course_id]),
                        course["sortorder"],
                        json.dumps(course),
                    ),
                )
            for rid, shortname, name, levels in fixture.ROLES:
                self.execute(
                    "INSERT INTO roles VALUES (?, ?, ?, ?)",
                    (rid, shortname, name, json.dumps(sorted(levels))),
                )
            self._sequences = {"users": fixture.NEXT_USER_ID, "groups": fixture.NEXT_GROUP_ID}

    # --- record lookups -------------------------------------------------------------------------------
    def user(self, user_id: int) -> UserRecord | None:
        row = self.execute("SELECT data FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user_record(row) if row else None

    def all_users(self) -> list[UserRecord]:
        return [_user_record(r) for r in self.execute("SELECT data FROM users ORDER BY id")]

    def select_users(self, sql: str, args: Sequence[Any]) -> list[UserRecord]:
        """Users selected by ``SELECT data FROM users WHERE ...``."""
        return [_user_record(r) for r in self.execute(sql, args)]

    def insert_user(self, user: UserRecord) -> None:
        self.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?)",
            (user["id"], user["username"], user["email"], json.dumps(user)),
        )

    def save_user(self, user: UserRecord) -> None:
        self.execute(
            "UPDATE users SET username = ?, email = ?, data = ? WHERE id = ?",
            (user["username"], user["email"], json.dumps(user), user["id"]),
        )

    def course(self, course_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.execute("SELECT * FROM courses WHERE id = ?", (course_id,)).fetchone()
        return row

    def assignable(self, role_id: int, contextlevel: int) -> bool:
        """Whether the role exists and may be assigned at that context level."""
        role = self.execute("SELECT * FROM roles WHERE id = ?", (role_id,)).fetchone()
        return role is not None and contextlevel in json.loads(role["levels"])

    def enrolment(self, course_id: int, user_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.execute(
            "SELECT * FROM user_enrolments WHERE course_id = ? AND user_id = ?", (course_id, user_id)
        ).fetchone()
        return row

    def group(self, group_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.execute("SELECT * FROM groups_ WHERE id = ?", (group_id,)).fetchone()
        return row

    # --- contexts: the system, one per course, one per user (no categories, modules or blocks here) ---
    def context(self, contextid: int) -> tuple[int, int] | None:
        """context id -> (contextlevel, instanceid)."""
        if contextid == SYSTEM_CONTEXT_ID:
            return SYSTEM, 0
        row = self.execute("SELECT id FROM courses WHERE context_id = ?", (contextid,)).fetchone()
        if row:
            return COURSE, row["id"]
        user_id = contextid - fixture.FIRST_USER_CONTEXT_ID
        if user_id > 0 and self.user(user_id):
            return USER, user_id
        return None

    def context_id(self, contextlevel: int, instanceid: int) -> int | None:
        if contextlevel == SYSTEM:
            return SYSTEM_CONTEXT_ID
        if contextlevel == COURSE:
            course = self.course(instanceid)
            return course["context_id"] if course else None
        if contextlevel == USER:
            return fixture.FIRST_USER_CONTEXT_ID + instanceid if self.user(instanceid) else None
        return None  # categories, modules, blocks: none on this site


def _user_record(row: sqlite3.Row) -> UserRecord:
    record: UserRecord = json.loads(row["data"])
    return record
