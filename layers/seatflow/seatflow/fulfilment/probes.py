"""Moodle probes that change nothing: can this course enrol with this role, can this role be assigned in a
user's context. PrepareSession and `seatflow doctor` both ask them."""

from __future__ import annotations

from seatflow.moodle import (
    Enrolment,
    InvalidParameterError,
    MoodleClient,
    MoodlePermanentError,
    NoManualEnrolmentError,
    RecordNotFoundError,
    RoleAssignDeniedError,
    UserContextAssignment,
    assign_user_context_roles,
    enrol_users,
)

from .errors import SessionNotPossible

# No Moodle account has this id: enrolling it checks the course, its manual instance and the role without
# changing anything (Moodle checks the role, then the instance, and only then the user, in one transaction).
PROBE_USER_ID = 2_147_483_647


def probe_enrolment(moodle: MoodleClient, course_id: int, shortname: str, role_id: int, role: str) -> None:
    try:
        enrol_users(moodle, [Enrolment(course_id=course_id, user_id=PROBE_USER_ID, role_id=role_id)])
    except RecordNotFoundError:
        return  # course, manual instance and role are fine; only the (nonexistent) user was refused
    except NoManualEnrolmentError as exc:
        raise SessionNotPossible(
            f"course {shortname!r} has no enabled manual enrolment method: add one "
            f"(Course > Participants > Enrolment methods) ({exc.errorcode})"
        ) from exc
    except RoleAssignDeniedError as exc:
        raise SessionNotPossible(
            f"role {role!r} (id {role_id}) cannot be assigned in course {shortname!r} by the web-service user: "
            f"allow it at the Course context level and in 'Allow role assignments' ({exc.errorcode})"
        ) from exc
    raise SessionNotPossible(f"Moodle accepted an enrolment of user {PROBE_USER_ID} in course {shortname!r}")


def role_assignable_in_user_context(moodle: MoodleClient, role_id: int, context_user_id: int) -> bool:
    """Moodle checks that the role is assignable in the context before it looks at the user: assigning it to
    a nonexistent user answers `codingerror` when the role is allowed and `invalidparameter` when it is not."""
    try:
        assign_user_context_roles(
            moodle,
            [UserContextAssignment(role_id=role_id, user_id=PROBE_USER_ID, context_user_id=context_user_id)],
        )
    except InvalidParameterError:
        return False
    except MoodlePermanentError as error:
        if error.errorcode == "codingerror":
            return True
        raise
    return True
