"""The token's external service (Moodle's db/services.php): the functions it holds, those the sandbox also
implements for a site that adds them, and those it does not implement."""

from __future__ import annotations

# The standard service: the functions of the recordings' fixture service, in the order of the recorded service.
SERVICE_FUNCTIONS: tuple[str, ...] = (
    "core_webservice_get_site_info",
    "core_user_get_users_by_field",
    "core_user_create_users",
    "core_user_update_users",
    "enrol_manual_enrol_users",
    "enrol_manual_unenrol_users",
    "core_enrol_get_enrolled_users",
    "core_enrol_get_course_enrolment_methods",
    "core_role_assign_roles",
    "core_role_unassign_roles",
    "core_group_get_course_groups",
    "core_group_create_groups",
    "core_group_add_group_members",
    "core_group_get_group_members",
    "core_group_delete_group_members",
    "core_course_get_courses_by_field",
    "core_user_get_users",
    "core_group_delete_groups",
)
# Implemented, but outside the standard service: a site adds them to its service (on the peer,
# ``EXTRA_FUNCTIONS=core_user_search_identity reset.sh``; here ``Store.allow_function``).
EXTRA_FUNCTIONS: tuple[str, ...] = ("core_user_search_identity",)
IMPLEMENTED_FUNCTIONS: tuple[str, ...] = SERVICE_FUNCTIONS + EXTRA_FUNCTIONS
# Functions that exist in Moodle but that the sandbox does not implement: outside the service.
OTHER_MOODLE_FUNCTIONS = frozenset(
    {
        "core_course_create_courses",
        "core_course_get_courses",
        "core_course_delete_courses",
        "core_user_delete_users",
        "core_enrol_get_users_courses",
        "core_role_get_roles",
        "core_cohort_add_cohort_members",
    }
)
