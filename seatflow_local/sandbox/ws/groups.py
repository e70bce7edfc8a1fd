"""core_group_*: a course's groups (created, listed, deleted), and their members (added, listed, removed)."""

from __future__ import annotations

import sqlite3
from typing import TypedDict

from ..errors import (
    course_context_error,
    db_write_error,
    invalid_parameter,
    invalid_user,
    missing_record,
    moodle_exception,
)
from ..params import Params, as_bool, as_int, items
from ..registry import Site, webservice


class GroupRecord(TypedDict):
    """A group as the group functions answer it."""

    id: int
    courseid: int
    name: str
    description: str
    descriptionformat: int
    enrolmentkey: str | None  # None when created without one; create_groups itself answers ""
    idnumber: str
    visibility: int
    participation: bool


class GroupMembers(TypedDict):
    groupid: int
    userids: list[int]


def group_record(row: sqlite3.Row) -> GroupRecord:
    return {
        "id": row["id"],
        "courseid": row["course_id"],
        "name": row["name"],
        "description": row["description"],
        "descriptionformat": row["descriptionformat"],
        "enrolmentkey": row["enrolmentkey"],
        "idnumber": row["idnumber"],
        "visibility": row["visibility"],
        "participation": bool(row["participation"]),
    }


@webservice("core_group_get_course_groups")
def get_course_groups(site: Site, params: Params) -> list[GroupRecord]:
    if "courseid" not in params:
        raise invalid_parameter()
    course_id = as_int(params["courseid"])
    if site.db.course(course_id) is None:
        raise course_context_error(course_id)
    rows = site.db.execute("SELECT * FROM groups_ WHERE course_id = ? ORDER BY name", (course_id,))
    return [group_record(r) for r in rows]


@webservice("core_group_create_groups")
def create_groups(site: Site, params: Params) -> list[GroupRecord]:
    db = site.db
    groups = items(params, "groups", ("courseid", "name", "description"))
    for g in groups:
        as_int(g["courseid"])
    created: list[GroupRecord] = []
    for g in groups:
        course_id = as_int(g["courseid"])
        if db.course(course_id) is None:
            raise course_context_error(course_id)
        name = str(g["name"])
        if db.execute("SELECT 1 FROM groups_ WHERE course_id = ? AND name = ?", (course_id, name)).fetchone():
            raise invalid_parameter()  # Group with the same name already exists in the course
        idnumber = str(g.get("idnumber", ""))
        if (
            idnumber
            and db.execute(
                "SELECT 1 FROM groups_ WHERE course_id = ? AND idnumber = ?", (course_id, idnumber)
            ).fetchone()
        ):
            raise moodle_exception("idnumbertaken", "This ID number is already in use")
        record: GroupRecord = {
            "id": db.next_id("groups"),  # a sequence: not given back by a rollback
            "courseid": course_id,
            "name": name,
            "description": str(g["description"]),
            "descriptionformat": as_int(g.get("descriptionformat", 1)),
            "enrolmentkey": str(g.get("enrolmentkey", "")),
            "idnumber": idnumber,
            "visibility": as_int(g.get("visibility", 0)),
            "participation": as_bool(g.get("participation", "1")),
        }
        if len(name) > 254 or len(idnumber) > 100:
            raise db_write_error()
        db.execute(
            "INSERT INTO groups_ VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record["id"],
                course_id,
                name,
                record["description"],
                record["descriptionformat"],
                g.get("enrolmentkey"),
                idnumber,
                record["visibility"],
                int(record["participation"]),
            ),
        )
        created.append(record)
    return created


@webservice("core_group_add_group_members")
def add_group_members(site: Site, params: Params) -> None:
    """Only enrolled users may be members; adding a member again is a silent no-op."""
    members = items(params, "members", ("groupid", "userid"))
    for m in members:
        as_int(m["groupid"]), as_int(m["userid"])
    for m in members:
        group = site.db.group(as_int(m["groupid"]))
        if group is None:
            raise missing_record("groups")
        user_id = as_int(m["userid"])
        if site.db.user(user_id) is None:
            raise invalid_user()
        if site.db.enrolment(group["course_id"], user_id) is None:
            raise invalid_parameter()  # Only enrolled users may be members of groups
        site.db.execute("INSERT OR IGNORE INTO group_members VALUES (?, ?)", (group["id"], user_id))


@webservice("core_group_delete_group_members")
def delete_group_members(site: Site, params: Params) -> None:
    """Removing a user who is not a member is a silent no-op; an unknown group or user is an error."""
    for m in items(params, "members", ("groupid", "userid")):
        group_id, user_id = as_int(m["groupid"]), as_int(m["userid"])
        group = site.db.group(group_id)
        if group is None:
            raise missing_record("groups")
        if site.db.user(user_id) is None:
            raise invalid_user()
        site.db.execute("DELETE FROM group_members WHERE group_id = ? AND user_id = ?", (group["id"], user_id))


@webservice("core_group_delete_groups")
def delete_groups(site: Site, params: Params) -> None:
    """Deletes the groups and their memberships; an unknown group id is a silent no-op."""
    group_ids = params.get("groupids")
    if not isinstance(group_ids, list):
        raise invalid_parameter()
    for raw in group_ids:
        group_id = as_int(raw)
        site.db.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
        site.db.execute("DELETE FROM groups_ WHERE id = ?", (group_id,))


def _member_ids(site: Site, group_id: int) -> list[int]:
    """Members ordered like Moodle's groups_get_members(): by lastname, firstname."""
    ids = [r["user_id"] for r in site.db.execute("SELECT user_id FROM group_members WHERE group_id = ?", (group_id,))]
    users = [u for u in (site.db.user(i) for i in ids) if u]
    return [u["id"] for u in sorted(users, key=lambda u: (u["lastname"], u["firstname"], u["id"]))]


@webservice("core_group_get_group_members")
def get_group_members(site: Site, params: Params) -> list[GroupMembers]:
    group_ids = params.get("groupids")
    if not isinstance(group_ids, list):
        raise invalid_parameter()
    result: list[GroupMembers] = []
    for raw in group_ids:
        group_id = as_int(raw)
        if site.db.group(group_id) is None:
            raise missing_record("groups")
        result.append({"groupid": group_id, "userids": _member_ids(site, group_id)})
    return result
