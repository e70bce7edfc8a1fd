"""Everything that talks to Moodle: the client, its errors, and the operations seatflow needs."""

from .atomic import isolate_refusals
from .client import MoodleClient, encode_params
from .errors import (
    AccessDeniedError,
    CourseContextError,
    DatabaseWriteError,
    GroupIdnumberTakenError,
    InvalidParameterError,
    InvalidTokenError,
    MoodleError,
    MoodlePermanentError,
    MoodleTransientError,
    NoManualEnrolmentError,
    RecordNotFoundError,
    RoleAssignDeniedError,
)
from .models import Course, Enrolment, Group, MoodleUser, SiteInfo, UserContextAssignment
from .operations import (
    add_group_members,
    assign_user_context_roles,
    enrol_users,
    ensure_group,
    find_course_by_shortname,
    find_group_by_idnumber,
    get_site_info,
    list_course_groups,
)
from .roles import RoleMap
from .usernames import UsernameRequest, allocate_usernames, candidates_to_check, username_candidates
from .users import NewAccount, create_accounts, find_accounts_by_email, find_accounts_by_emails, taken_usernames

__all__ = [
    "AccessDeniedError",
    "Course",
    "CourseContextError",
    "DatabaseWriteError",
    "Enrolment",
    "Group",
    "GroupIdnumberTakenError",
    "InvalidParameterError",
    "InvalidTokenError",
    "MoodleClient",
    "MoodleError",
    "MoodlePermanentError",
    "MoodleTransientError",
    "MoodleUser",
    "NewAccount",
    "NoManualEnrolmentError",
    "RecordNotFoundError",
    "RoleAssignDeniedError",
    "RoleMap",
    "SiteInfo",
    "UserContextAssignment",
    "UsernameRequest",
    "add_group_members",
    "allocate_usernames",
    "assign_user_context_roles",
    "candidates_to_check",
    "create_accounts",
    "encode_params",
    "enrol_users",
    "ensure_group",
    "find_accounts_by_email",
    "find_accounts_by_emails",
    "find_course_by_shortname",
    "find_group_by_idnumber",
    "get_site_info",
    "isolate_refusals",
    "list_course_groups",
    "taken_usernames",
    "username_candidates",
]
