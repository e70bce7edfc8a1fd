"""The web-service functions, one module per Moodle component (core_user in two: ``user_lookups`` finds users,
``users`` writes them): importing this package registers them all in ``FUNCTIONS``."""

from ..registry import FUNCTIONS
from ..service import IMPLEMENTED_FUNCTIONS
from . import courses, enrol, groups, roles, site, user_lookups, users

__all__ = ["FUNCTIONS", "courses", "enrol", "groups", "roles", "site", "user_lookups", "users"]

if set(FUNCTIONS) != set(IMPLEMENTED_FUNCTIONS):  # service.py lists exactly the functions implemented
    raise RuntimeError(f"registered and listed functions differ: {set(FUNCTIONS) ^ set(IMPLEMENTED_FUNCTIONS)}")
