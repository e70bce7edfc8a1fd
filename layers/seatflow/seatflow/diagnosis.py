"""Checks a Moodle for what seatflow needs, and says how to fix each gap. Nothing is changed in Moodle:
the enrolment and role probes target a user id that does not exist, which Moodle checks last."""

from __future__ import annotations

from dataclasses import dataclass

from seatflow.config import ConfigurationError, Settings
from seatflow.moodle import (
    Enrolment,
    InvalidTokenError,
    MoodleClient,
    MoodleError,
    NoManualEnrolmentError,
    RecordNotFoundError,
    RoleAssignDeniedError,
    RoleMap,
    enrol_users,
    find_course_by_shortname,
    get_site_info,
)
from seatflow.product import ProductParamError, parse_product_params

ROLES_PATH = "Site administration > Users > Permissions > Define roles"
SERVICE_PATH = "Site administration > Server > Web services > External services > Functions"


@dataclass
class Finding:
    check: str
    ok: bool
    fix: str = ""


def diagnose(settings: Settings, *, product: str | None, required: dict[str, str]) -> list[Finding]:
    from seatflow.fulfilment.probes import PROBE_USER_ID, role_assignable_in_user_context

    findings: list[Finding] = []
    try:
        moodle = MoodleClient.from_settings()
        info = get_site_info(moodle)
    except InvalidTokenError:
        return [
            Finding(
                "the token is accepted",
                False,
                "create a token for the seatflow service: Site administration > Server > Web services > Manage tokens",
            )
        ]
    except (MoodleError, ConfigurationError) as exc:
        return [Finding("Moodle answers", False, f"{exc}")]
    findings.append(Finding(f"Moodle {info.release} answers at {settings.moodle_url} as {info.username}", True))
    allowed = set(info.functions)
    for function, why in required.items():
        findings.append(
            Finding(
                f"function {function} ({why})",
                function in allowed,
                f"add {function} to the token's external service: {SERVICE_PATH}",
            )
        )
    if not product:
        return findings

    try:
        params = parse_product_params(product)
    except ProductParamError as exc:
        return [*findings, Finding("product parameters parse", False, str(exc))]
    roles = RoleMap(settings.role_ids)
    role_ids: dict[str, int] = {}
    for shortname in {params.supervisor, "student"}:
        try:
            role_ids[shortname] = roles.id_for(shortname)
            findings.append(Finding(f"role {shortname} is mapped to id {role_ids[shortname]}", True))
        except ConfigurationError as exc:
            findings.append(Finding(f"role {shortname} is mapped", False, str(exc)))

    courses = [(params.coursename, sorted(role_ids.items()))]
    if params.customersupport:
        support_roles = [("student", role_ids.get("student", 5))]
        if "customer" in settings.role_ids:
            support_roles.append(("customer", settings.role_ids["customer"]))
        courses.append((params.customersupport, support_roles))
    for shortname, course_roles in courses:
        course = find_course_by_shortname(moodle, shortname)
        if course is None:
            findings.append(
                Finding(
                    f"course {shortname} exists",
                    False,
                    f"create course {shortname!r} or fix coursename/customersupport (shortnames are case-sensitive)",
                )
            )
            continue
        findings.append(Finding(f"course {shortname} exists (id {course.id})", True))
        for role, role_id in course_roles:
            findings.append(_probe_course_role(moodle, course.id, shortname, role, role_id, PROBE_USER_ID))

    for role, role_id in sorted(role_ids.items()):
        ok = role_assignable_in_user_context(moodle, role_id, info.userid)
        findings.append(
            Finding(
                f"role {role} can be assigned at the User context level (delegated administration)",
                ok,
                f"allow role {role} at the User context level: {ROLES_PATH}",
            )
        )
    return findings


def _probe_course_role(
    moodle: MoodleClient, course_id: int, shortname: str, role: str, role_id: int, probe_user: int
) -> Finding:
    check = f"course {shortname}: manual enrolment with role {role}"
    try:
        enrol_users(moodle, [Enrolment(course_id=course_id, user_id=probe_user, role_id=role_id)])
    except RecordNotFoundError:
        return Finding(check, True)
    except NoManualEnrolmentError:
        return Finding(
            check,
            False,
            f"enable the manual enrolment method in {shortname}: Course > Participants > Enrolment methods",
        )
    except RoleAssignDeniedError:
        return Finding(
            check,
            False,
            f"allow role {role} at the Course context level and let the web-service "
            f"user assign it: {ROLES_PATH} (Allow role assignments)",
        )
    except MoodleError as exc:
        return Finding(check, False, str(exc))
    return Finding(check, True)
