"""enrol_manual_* and core_enrol_*: manual enrolments in and out, a course's enrolment methods and users."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .. import fixture
from ..db import COURSE
from ..errors import invalid_parameter, invalid_user, missing_record, moodle_exception
from ..params import Params, as_bool, as_int, items
from ..registry import Site, webservice
from ..user_records import user_details

# In a course context Moodle leaves out the site-administration fields of user_get_user_details() (as recorded).
_SITE_ADMIN_FIELDS = (
    "preferences",
    "auth",
    "confirmed",
    "lang",
    "mailformat",
    "suspended",
    "theme",
    "timezone",
    "trackforums",
)


@dataclass(frozen=True)
class _Enrolment:
    """One item of enrol_manual_enrol_users, its types checked (None: not given)."""

    roleid: int
    userid: int
    courseid: int
    timestart: int | None
    timeend: int | None
    suspend: bool | None

    @classmethod
    def parse(cls, item: dict[str, Any]) -> _Enrolment:
        return cls(
            roleid=as_int(item["roleid"]),
            userid=as_int(item["userid"]),
            courseid=as_int(item["courseid"]),
            timestart=as_int(item["timestart"]) if "timestart" in item else None,
            timeend=as_int(item["timeend"]) if "timeend" in item else None,
            suspend=as_bool(item["suspend"]) if "suspend" in item else None,
        )


@webservice("enrol_manual_enrol_users")
def enrol_users(site: Site, params: Params) -> None:
    """Enrols, or re-enrols: the item's dates (0 when absent) and status (active unless ``suspend``) overwrite
    the enrolment's; the role is assigned in the course (another role is added to those held)."""
    db = site.db
    for e in [_Enrolment.parse(item) for item in items(params, "enrolments", ("roleid", "userid", "courseid"))]:
        course = db.course(e.courseid)
        if course is None:
            raise invalid_parameter()  # Context does not exist
        if not db.assignable(e.roleid, COURSE):
            raise moodle_exception(
                "wsusercannotassign",
                f"You don't have the permission to assign this role ({e.roleid}) to this user "
                f"({e.userid}) in this course ({e.courseid}).",
            )
        if not course["manual_enabled"]:
            raise moodle_exception(
                "wsnoinstance",
                f"Manual enrolment plugin instance doesn't exist or is disabled for the course (id = {e.courseid})",
            )
        if db.user(e.userid) is None:
            raise invalid_user()
        if e.userid == fixture.GUEST_USER_ID:
            raise moodle_exception("guestsarenotallowed", "The guest user is not allowed to do this")
        db.execute(
            "INSERT INTO user_enrolments VALUES (?, ?, ?, ?, ?) ON CONFLICT (course_id, user_id) DO UPDATE SET "
            "status = excluded.status, timestart = excluded.timestart, timeend = excluded.timeend",
            (e.courseid, e.userid, int(bool(e.suspend)), e.timestart or 0, e.timeend or 0),
        )
        db.execute(
            "INSERT OR IGNORE INTO role_assignments VALUES (?, ?, ?)", (e.roleid, e.userid, course["context_id"])
        )


@webservice("enrol_manual_unenrol_users")
def unenrol_users(site: Site, params: Params) -> None:
    """Unenrolling also removes the user's roles and groups in that course; not enrolled: a silent no-op."""
    db = site.db
    for e in items(params, "enrolments", ("userid", "courseid")):
        user_id, course_id = as_int(e["userid"]), as_int(e["courseid"])
        if "roleid" in e:
            as_int(e["roleid"])
        course = db.course(course_id)
        if course is None:
            raise missing_record("course")
        if db.user(user_id) is None:
            raise invalid_user()
        if db.enrolment(course_id, user_id) is None:
            continue
        db.execute("DELETE FROM user_enrolments WHERE course_id = ? AND user_id = ?", (course_id, user_id))
        db.execute("DELETE FROM role_assignments WHERE user_id = ? AND context_id = ?", (user_id, course["context_id"]))
        db.execute(
            "DELETE FROM group_members WHERE user_id = ? AND group_id IN (SELECT id FROM groups_ WHERE course_id = ?)",
            (user_id, course_id),
        )


@webservice("core_enrol_get_course_enrolment_methods")
def get_course_enrolment_methods(site: Site, params: Params) -> list[Any]:
    course_id = as_int(params.get("courseid"))
    if site.db.course(course_id) is None:
        raise missing_record("course")
    return []  # manual enrolment publishes no enrolment info (recorded: [] for every course)


def _active(site: Site, enrolment: sqlite3.Row | None) -> bool:
    """Active now: not suspended, and within its dates (0: unlimited)."""
    if enrolment is None:
        return False
    now = site.clock()
    return bool(
        enrolment["status"] == 0
        and enrolment["timestart"] <= now
        and (enrolment["timeend"] == 0 or enrolment["timeend"] > now)
    )


@webservice("core_enrol_get_enrolled_users")
def get_enrolled_users(site: Site, params: Params) -> list[dict[str, Any]]:
    if "courseid" not in params:
        raise invalid_parameter()
    course_id = as_int(params["courseid"])
    options = {str(o["name"]): o["value"] for o in items(params, "options", ("name", "value"), optional=True)}
    course = site.db.course(course_id)
    if course is None:
        raise missing_record("course")
    userfields = None
    if "userfields" in options:
        userfields = {f.strip() for f in str(options["userfields"]).split(",") if f.strip()} | {"id", "fullname"}
    onlyactive = as_bool(options.get("onlyactive", "0"))
    groupid = as_int(options["groupid"]) if "groupid" in options else 0
    rows = site.db.execute(
        "SELECT * FROM user_enrolments WHERE course_id = ? ORDER BY user_id", (course_id,)
    ).fetchall()
    result = []
    for enrolment in rows:
        if onlyactive and not _active(site, enrolment):
            continue
        user_id = enrolment["user_id"]
        if (
            groupid
            and not site.db.execute(
                "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?", (groupid, user_id)
            ).fetchone()
        ):
            continue
        out = _enrolled_user(site, course, user_id)
        if out is None:
            continue
        if userfields is not None:
            out = {k: v for k, v in out.items() if k in userfields}
        result.append(out)
    limitfrom = as_int(options.get("limitfrom", "0"))
    limitnumber = as_int(options.get("limitnumber", "0"))
    result = result[limitfrom:]
    return result[:limitnumber] if limitnumber else result


def _enrolled_user(site: Site, course: sqlite3.Row, user_id: int) -> dict[str, Any] | None:
    """One user as core_enrol_get_enrolled_users answers: details, groups, roles and courses in this course."""
    db = site.db
    user = db.user(user_id)
    if user is None:
        return None
    details = user_details(site, user)
    for key in _SITE_ADMIN_FIELDS:
        details.pop(key, None)
    out: dict[str, Any] = {}
    for key, value in details.items():
        out[key] = value
        if key == "lastaccess":
            out["lastcourseaccess"] = 0
    groups = db.execute(
        "SELECT g.id, g.name, g.description, g.descriptionformat FROM groups_ g JOIN group_members m "
        "ON m.group_id = g.id WHERE g.course_id = ? AND m.user_id = ? ORDER BY g.name",
        (course["id"], user_id),
    ).fetchall()
    if groups:
        out["groups"] = [dict(g) for g in groups]
    out["roles"] = [
        {"roleid": r["id"], "name": r["name"], "shortname": r["shortname"], "sortorder": 0}
        for r in db.execute(
            "SELECT r.* FROM roles r JOIN role_assignments a ON a.role_id = r.id "
            "WHERE a.user_id = ? AND a.context_id = ? ORDER BY r.id",
            (user_id, course["context_id"]),
        )
    ]
    courses = [
        {"id": c["id"], "fullname": json.loads(c["data"])["fullname"], "shortname": c["shortname"]}
        for c in db.execute(
            "SELECT c.* FROM courses c JOIN user_enrolments e ON e.course_id = c.id "
            "WHERE e.user_id = ? ORDER BY c.sortorder",
            (user_id,),
        )
        if _active(site, db.enrolment(c["id"], user_id))
    ]
    if courses:
        out["enrolledcourses"] = courses
    return out
