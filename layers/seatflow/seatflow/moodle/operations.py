"""Enrolments, role assignments, courses and groups: what seatflow asks of Moodle besides accounts.

Enrolments, role assignments and group memberships are atomic per call in Moodle (one bad item refuses the
whole call, nothing stays) and silent when repeated: ``isolate_refusals`` splits a refused call until each bad
item stands alone, and nothing else fails with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .client import MoodleClient
from .errors import GroupIdnumberTakenError
from .models import Course, Enrolment, Group, SiteInfo, UserContextAssignment

# --- enrolments and roles ---------------------------------------------------------------------------


def enrol_users(client: MoodleClient, enrolments: Sequence[Enrolment]) -> None:
    """Manual enrolments in one call (atomic in Moodle; repeating one is silent)."""
    if not enrolments:
        return
    items = []
    for e in enrolments:
        item: dict[str, Any] = {"roleid": e.role_id, "userid": e.user_id, "courseid": e.course_id}
        if e.timestart:
            item["timestart"] = e.timestart
        if e.timeend:
            item["timeend"] = e.timeend
        items.append(item)
    client.call("enrol_manual_enrol_users", {"enrolments": items})


def assign_user_context_roles(client: MoodleClient, assignments: Sequence[UserContextAssignment]) -> None:
    """Role assignments at user context level in one call (one transaction in Moodle)."""
    if not assignments:
        return
    client.call(
        "core_role_assign_roles",
        {
            "assignments": [
                {
                    "roleid": a.role_id,
                    "userid": a.user_id,
                    "contextlevel": "user",
                    "instanceid": a.context_user_id,
                }
                for a in assignments
            ]
        },
    )


# --- courses and groups ---------------------------------------------------------------------------


def find_course_by_shortname(client: MoodleClient, shortname: str) -> Course | None:
    """The course with exactly this shortname (Moodle compares case-sensitively), or None."""
    answer = client.call("core_course_get_courses_by_field", {"field": "shortname", "value": shortname})
    for course in answer.get("courses", []):
        if course.get("shortname") == shortname:
            return Course.model_validate(course)
    return None


def list_course_groups(client: MoodleClient, course_id: int) -> list[Group]:
    return [Group.model_validate(g) for g in client.call("core_group_get_course_groups", {"courseid": course_id})]


def find_group_by_idnumber(client: MoodleClient, course_id: int, idnumber: str) -> Group | None:
    for group in list_course_groups(client, course_id):
        if group.idnumber == idnumber:
            return group
    return None


def ensure_group(
    client: MoodleClient, course_id: int, idnumber: str, name: str, description: str = ""
) -> tuple[Group, bool]:
    """The course's group with this idnumber, created if missing. Returns (group, created)."""
    existing = find_group_by_idnumber(client, course_id, idnumber)
    if existing is not None:
        return existing, False
    try:
        answer = client.call(
            "core_group_create_groups",
            {"groups": [{"courseid": course_id, "name": name, "description": description, "idnumber": idnumber}]},
        )
    except GroupIdnumberTakenError:
        concurrent = find_group_by_idnumber(client, course_id, idnumber)
        if concurrent is None:
            raise
        return concurrent, False
    return Group.model_validate(answer[0]), True


def add_group_members(client: MoodleClient, group_id: int, user_ids: Iterable[int], batch_size: int = 100) -> int:
    """Add members in batches (repeating a membership is silent). Returns the number of calls made."""
    ids = list(dict.fromkeys(int(u) for u in user_ids))
    calls = 0
    for start in range(0, len(ids), max(1, batch_size)):
        chunk = ids[start : start + max(1, batch_size)]
        client.call(
            "core_group_add_group_members",
            {"members": [{"groupid": group_id, "userid": uid} for uid in chunk]},
        )
        calls += 1
    return calls


def get_site_info(client: MoodleClient) -> SiteInfo:
    return SiteInfo.from_answer(client.call("core_webservice_get_site_info"))
