"""What Moodle answers, parsed into small frozen models (unknown keys ignored)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


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


class CourseRole(_MoodleModel):
    """``user_id`` holds ``role_id`` in the context of course ``course_id``."""

    role_id: int
    user_id: int
    course_id: int
