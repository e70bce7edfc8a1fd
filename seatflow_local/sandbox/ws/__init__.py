"""The web-service functions, one module per Moodle component: importing this package registers them all in
``FUNCTIONS``."""

from ..registry import FUNCTIONS
from ..service import SERVICE_FUNCTIONS
from . import courses, enrol, groups, roles, site, users

__all__ = ["FUNCTIONS", "courses", "enrol", "groups", "roles", "site", "users"]

if set(FUNCTIONS) != set(SERVICE_FUNCTIONS):  # the service holds exactly the functions implemented
    raise RuntimeError(f"registered and service functions differ: {set(FUNCTIONS) ^ set(SERVICE_FUNCTIONS)}")
