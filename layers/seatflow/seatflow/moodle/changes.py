"""What seatflow asks of Moodle when an order changes: enrolments, roles and group memberships taken back, a role
given in a course where someone else enrolled the person, groups deleted, and who was enrolled before.

Facts from ``shared/moodle-ws`` (cases.jsonl, cases-batch.jsonl): every one of these calls is atomic (one bad item
refuses the whole call; ``isolate_refusals`` finds it) and silent when repeated (unenrolling someone not enrolled,
unassigning a role not held, removing a non-member, deleting an unknown group). Unenrolling also removes the user's
groups and roles in that course, but not the roles held in user contexts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .client import MoodleClient
from .models import CourseRole, UserContextAssignment


def unenrol_users(client: MoodleClient, pairs: Sequence[tuple[int, int]]) -> None:
    """Manual unenrolments of (user id, course id) in one call."""
    if pairs:
        enrolments = [{"userid": user_id, "courseid": course_id} for user_id, course_id in pairs]
        client.call("enrol_manual_unenrol_users", {"enrolments": enrolments})


def assign_course_roles(client: MoodleClient, roles: Sequence[CourseRole]) -> None:
    """Roles in a course's context, without touching the enrolment (whose dates are someone else's)."""
    if roles:
        client.call("core_role_assign_roles", {"assignments": [_course_role(r) for r in roles]})


def unassign_course_roles(client: MoodleClient, roles: Sequence[CourseRole]) -> None:
    if roles:
        client.call("core_role_unassign_roles", {"unassignments": [_course_role(r) for r in roles]})


def unassign_user_context_roles(client: MoodleClient, assignments: Sequence[UserContextAssignment]) -> None:
    """The cross roles of delegated administration, taken back in one call."""
    if assignments:
        client.call(
            "core_role_unassign_roles",
            {
                "unassignments": [
                    {"roleid": a.role_id, "userid": a.user_id, "contextlevel": "user", "instanceid": a.context_user_id}
                    for a in assignments
                ]
            },
        )


def remove_group_members(client: MoodleClient, group_id: int, user_ids: Iterable[int]) -> None:
    members = [{"groupid": group_id, "userid": user_id} for user_id in dict.fromkeys(user_ids)]
    if members:
        client.call("core_group_delete_group_members", {"members": members})


def delete_groups(client: MoodleClient, group_ids: Sequence[int]) -> None:
    if group_ids:
        client.call("core_group_delete_groups", {"groupids": list(group_ids)})


def enrolled_roles(client: MoodleClient, course_id: int) -> dict[int, list[int]]:
    """Everyone enrolled in the course (by any method, active or not) and the roles each holds there: one call,
    asking for nothing but the ids and roles."""
    answer = client.call(
        "core_enrol_get_enrolled_users",
        {"courseid": course_id, "options": [{"name": "userfields", "value": "id,roles"}]},
    )
    return {
        int(user["id"]): sorted(int(role["roleid"]) for role in user.get("roles") or [])
        for user in answer or []
        if isinstance(user, dict) and "id" in user
    }


def _course_role(role: CourseRole) -> dict[str, object]:
    return {"roleid": role.role_id, "userid": role.user_id, "contextlevel": "course", "instanceid": role.course_id}
