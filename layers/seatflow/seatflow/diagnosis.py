"""Checks a Moodle for what seatflow needs, and says how to fix each gap. Nothing is changed in Moodle:
the enrolment and role probes target a user id that does not exist, which Moodle checks last.

`REQUIRED_FUNCTIONS` and `function_fix` are also what PrepareSession checks the token against, before it
creates anything, so an order refused for a missing function says the same fix as `seatflow doctor`."""

from __future__ import annotations

from dataclasses import dataclass

from seatflow.config import ConfigurationError, Settings
from seatflow.moodle import (
    AccessDeniedError,
    Enrolment,
    InvalidTokenError,
    MoodleClient,
    MoodleError,
    NoManualEnrolmentError,
    RecordNotFoundError,
    RoleAssignDeniedError,
    RoleMap,
    SiteInfo,
    enrol_users,
    find_course_by_shortname,
    get_site_info,
)
from seatflow.product import ProductParamError, parse_product_params

ROLES_PATH = "Site administration > Users > Permissions > Define roles"
SERVICE_PATH = "Site administration > Server > Web services > External services > Functions"

# Every web-service function an order calls, and what for.
REQUIRED_FUNCTIONS = {
    "core_webservice_get_site_info": "read which functions the token may call",
    "core_user_get_users": "find accounts by email (case-insensitive)",
    "core_user_get_users_by_field": "check which usernames are free",
    "core_user_create_users": "create accounts",
    "core_course_get_courses_by_field": "find the course by shortname",
    "enrol_manual_enrol_users": "enrol participants and the operator",
    "core_role_assign_roles": "attach new accounts to the operator",
    "core_group_get_course_groups": "find the order's group",
    "core_group_create_groups": "create the order's group",
    "core_group_add_group_members": "add participants to the group",
    "core_enrol_get_enrolled_users": "tell enrolments someone else made from the order's own",
    "enrol_manual_unenrol_users": "undo an order's enrolments (amend, cancel)",
    "core_role_unassign_roles": "undo an order's roles (amend, cancel)",
    "core_group_delete_group_members": "take removed participants out of the group",
    "core_group_delete_groups": "delete a cancelled order's group",
}


@dataclass
class Finding:
    check: str
    ok: bool
    fix: str = ""


def function_fix(function: str) -> str:
    return f"add {function} to the token's external service: {SERVICE_PATH}"


def site_info_or_missing_function(moodle: MoodleClient) -> SiteInfo:
    """The site's info; a token that may not even ask which functions it may call is refused naming the fix."""
    try:
        return get_site_info(moodle)
    except AccessDeniedError as exc:
        raise MissingFunctions(["core_webservice_get_site_info"]) from exc


def missing_functions(info: SiteInfo, required: dict[str, str] = REQUIRED_FUNCTIONS) -> list[str]:
    """The required functions the token's service does not offer, in the order `required` lists them."""
    allowed = set(info.functions)
    return [function for function in required if function not in allowed]


class MissingFunctions(Exception):
    """The token may not call every function an order needs; the message names each one and its fix."""

    def __init__(self, functions: list[str]) -> None:
        self.functions = functions
        reasons = "; ".join(
            f"{function} ({REQUIRED_FUNCTIONS.get(function, 'needed')}): {function_fix(function)}"
            for function in functions
        )
        super().__init__(f"the Moodle token may not call every function an order needs, nothing was created: {reasons}")


def diagnose(
    settings: Settings, *, product: str | None, required: dict[str, str] = REQUIRED_FUNCTIONS
) -> list[Finding]:
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
        findings.append(Finding(f"function {function} ({why})", function in allowed, function_fix(function)))
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
