"""core_role_*: assign and unassign roles in a context given by id, or by level and instance."""

from __future__ import annotations

from typing import Any

from .. import fixture
from ..errors import coding_error, invalid_parameter
from ..params import Params, as_int, items
from ..registry import Site, webservice


def _resolve_context(site: Site, item: dict[str, Any]) -> tuple[int, int]:
    """(context id, context level) of an assignment; invalidparameter when it does not exist."""
    if item.get("contextid") not in (None, "", "0"):
        contextid = as_int(item["contextid"])
        found = site.db.context(contextid)
        if found is None:
            raise invalid_parameter()
        return contextid, found[0]
    level_name, instance = item.get("contextlevel"), item.get("instanceid")
    if level_name in (None, "") or instance in (None, ""):
        raise invalid_parameter()
    level = fixture.CONTEXT_LEVELS.get(str(level_name))
    if level is None:
        raise invalid_parameter()  # Invalid context level
    found_id = site.db.context_id(level, as_int(instance))
    if found_id is None:
        raise invalid_parameter()  # Context does not exist
    return found_id, level


@webservice("core_role_assign_roles")
def assign_roles(site: Site, params: Params) -> None:
    """Assigning a role the user already holds there is a silent no-op."""
    for item in items(params, "assignments", ("roleid", "userid")):
        role_id, user_id = as_int(item["roleid"]), as_int(item["userid"])
        contextid, level = _resolve_context(site, item)
        if not site.db.assignable(role_id, level):
            raise invalid_parameter()  # Can not assign roleid=.. in contextid=..
        if site.db.user(user_id) is None:
            raise coding_error("User ID does not exist or is deleted!")
        site.db.execute("INSERT OR IGNORE INTO role_assignments VALUES (?, ?, ?)", (role_id, user_id, contextid))


@webservice("core_role_unassign_roles")
def unassign_roles(site: Site, params: Params) -> None:
    """Unassigning a role the user does not hold is a silent no-op."""
    for item in items(params, "unassignments", ("roleid", "userid")):
        role_id, user_id = as_int(item["roleid"]), as_int(item["userid"])
        contextid, level = _resolve_context(site, item)
        if not site.db.assignable(role_id, level):
            raise invalid_parameter()
        site.db.execute(
            "DELETE FROM role_assignments WHERE role_id = ? AND user_id = ? AND context_id = ?",
            (role_id, user_id, contextid),
        )
