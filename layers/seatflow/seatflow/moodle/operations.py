"""What seatflow asks of Moodle, one function per need; Moodle's answers parsed into small models."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from .client import MoodleClient
from .errors import GroupIdnumberTakenError, InvalidParameterError
from .usernames import username_candidates

# Moodle's column lengths (user, groups): longer values fail with a database write error.
FIELD_LENGTHS = {
    "firstname": 100,
    "lastname": 100,
    "email": 100,
    "city": 120,
    "institution": 255,
    "phone1": 20,
}
USERNAME_BLOCK = 10
MAX_CREATE_RACES = 10


class _MoodleModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MoodleUser(_MoodleModel):
    id: int
    username: str
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    suspended: bool = False


class Course(_MoodleModel):
    id: int
    shortname: str
    fullname: str = ""
    startdate: int = 0
    enddate: int = 0


class Group(_MoodleModel):
    id: int
    courseid: int
    name: str
    idnumber: str = ""


class SiteInfo(_MoodleModel):
    sitename: str
    release: str = ""
    version: str = ""
    userid: int
    username: str
    functions: list[str] = []

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> SiteInfo:
        names = [f["name"] for f in answer.get("functions", []) if isinstance(f, dict) and "name" in f]
        return cls.model_validate({**answer, "functions": names})


class Enrolment(_MoodleModel):
    course_id: int
    user_id: int
    role_id: int
    timestart: int = 0
    timeend: int = 0


class UserContextAssignment(_MoodleModel):
    """``user_id`` gets ``role_id`` over the user ``context_user_id`` (e.g. a tutor over a learner)."""

    role_id: int
    user_id: int
    context_user_id: int


# --- users ---------------------------------------------------------------------------------------


def find_accounts_by_email(client: MoodleClient, email: str) -> list[MoodleUser]:
    """Every account whose email equals ``email`` ignoring case (suspended ones included). One call.

    ``core_user_get_users`` compares emails with a case-insensitive LIKE (``_`` and ``%`` are
    wildcards), so its answer is filtered on an exact casefolded comparison.
    """
    query = email.strip()
    if not query:
        return []
    answer = client.call("core_user_get_users", {"criteria": [{"key": "email", "value": query}]})
    wanted = query.casefold()
    users = [MoodleUser.model_validate(u) for u in answer.get("users", [])]
    return [u for u in users if u.email.strip().casefold() == wanted]


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


def create_account(
    client: MoodleClient,
    *,
    firstname: str,
    lastname: str,
    email: str,
    city: str | None = None,
    institution: str | None = None,
    phone: str | None = None,
) -> MoodleUser:
    """Create a manual account with the first free username; Moodle generates and mails the password.

    Normally two calls: one to check a block of candidate usernames, one to create. If the create is
    refused and the username turns out to have been taken meanwhile (a concurrent creation), the
    next candidate is tried (a bounded number of times).
    """
    user: dict[str, Any] = {
        "firstname": _clip(firstname, "firstname"),
        "lastname": _clip(lastname, "lastname"),
        "email": _clip(email, "email"),
        "auth": "manual",
        "createpassword": True,
        "city": _clip(city, "city"),
        "institution": _clip(institution, "institution"),
        "phone1": _clip(phone, "phone1"),
    }
    candidates = username_candidates(firstname, lastname)
    races = 0
    free: list[str] = []
    while True:
        if not free:
            block = list(itertools.islice(candidates, USERNAME_BLOCK))
            taken = taken_usernames(client, block)
            free = [u for u in block if u not in taken]
            continue
        username, rest = free[0], free[1:]
        try:
            created = client.call("core_user_create_users", {"users": [{"username": username, **user}]})
        except InvalidParameterError:
            # Refused: a race only if the username exists now. Re-check it with the rest of the block.
            taken = taken_usernames(client, [username, *rest])
            races += 1
            if username not in taken or races > MAX_CREATE_RACES:
                raise
            free = [u for u in rest if u not in taken]
            continue
        return MoodleUser(
            id=int(created[0]["id"]),
            username=created[0]["username"],
            firstname=user["firstname"] or "",
            lastname=user["lastname"] or "",
            email=user["email"] or "",
            suspended=False,
        )


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
