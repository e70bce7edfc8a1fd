"""core_user_* that find users: by criteria (ANDed, LIKE), by one field (in id order), by identity (a search).

The other core_user_* functions, those that write users, are in ``users``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any, TypedDict

from .. import fixture
from ..db import UserRecord
from ..errors import coding_error, invalid_parameter, moodle_exception
from ..params import Params, as_int, clean_username, items, valid_email
from ..registry import Site, webservice
from ..user_records import user_details
from .users import WsWarning

SEARCHABLE_KEYS = {"id", "lastname", "firstname", "idnumber", "username", "email", "auth"}
IDENTITY_FIELDS = ("email",)  # $CFG->showuseridentity, as on the recorded site


class ExtraField(TypedDict):
    name: str
    value: str


class FoundIdentity(TypedDict):
    id: int
    fullname: str
    extrafields: list[ExtraField]


class IdentitySearch(TypedDict):
    list: list[FoundIdentity]
    maxusersperpage: int
    overflow: bool


def like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE, case-insensitive: ``%`` any run, ``_`` one character (no escape character)."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _criterion_test(key: str, value: str) -> Callable[[UserRecord], bool]:
    """The exact test of one supported criterion (``email`` and the names: a case-insensitive LIKE)."""
    if key == "id":
        wanted = as_int(value)
        return lambda u: bool(u["id"] == wanted)
    if key in ("email", "firstname", "lastname"):
        if key == "email" and value != value.strip():
            raise invalid_parameter()
        pattern = like(value)
        return lambda u: bool(pattern.fullmatch(u.get(key, "")))
    return lambda u: bool(u.get(key, "") == value)


@webservice("core_user_get_users")
def get_users(site: Site, params: Params) -> dict[str, Any]:
    """The users meeting every criterion; a key given twice is refused, an unsupported one only warned about."""
    criteria = items(params, "criteria", ("key", "value"))
    if not criteria:
        raise invalid_parameter()
    warnings: list[WsWarning] = []
    tests: list[Callable[[UserRecord], bool]] = []
    used: set[str] = set()
    for criterion in criteria:
        key, value = str(criterion["key"]), str(criterion["value"])
        if key in used:
            raise moodle_exception("keyalreadyset", "error/keyalreadyset")
        used.add(key)
        if key not in SEARCHABLE_KEYS:
            warnings.append(
                {
                    "item": key,
                    "warningcode": "invalidfieldparameter",
                    "message": f"The search key '{key}' is not supported, look at the web service documentation",
                }
            )
            continue
        tests.append(_criterion_test(key, value))
    candidates = _candidates(site, criteria) if tests else site.db.all_users()
    users = [user_details(site, u) for u in candidates if all(t(u) for t in tests)]
    return {"users": users, "warnings": warnings}


def _candidates(site: Site, criteria: list[dict[str, Any]]) -> list[UserRecord]:
    """Narrows the rows in SQL, as Moodle's indexed query does, before the exact tests run in Python; the
    narrowing only ever keeps more rows than the tests (SQLite's LIKE folds ASCII case only)."""
    for criterion in criteria:
        key, value = str(criterion["key"]), str(criterion["value"])
        if key == "email" and value.isascii():
            sql, arg = "SELECT data FROM users WHERE email LIKE ? ORDER BY id", value
        elif key == "username":
            sql, arg = "SELECT data FROM users WHERE username = ? ORDER BY id", value
        else:
            continue
        return site.db.select_users(sql, (arg,))
    return site.db.all_users()


@webservice("core_user_get_users_by_field")
def get_users_by_field(site: Site, params: Params) -> list[dict[str, Any]]:
    """The users holding one of the values, in id order, each once; one invalid value refuses the call."""
    field = params.get("field")
    if not isinstance(field, str):
        raise invalid_parameter()
    values = params.get("values")
    if not isinstance(values, list) or any(not isinstance(v, str) for v in values):
        raise invalid_parameter()
    if field not in ("id", "idnumber", "username", "email"):
        raise coding_error("invalid field parameter")
    wanted: set[Any] = set()
    for value in values:
        if field == "id":
            wanted.add(as_int(value))
        elif field == "username":
            if clean_username(value) != value:
                raise invalid_parameter()
            wanted.add(value)
        elif field == "email":
            if value.strip() != value or not valid_email(value):
                raise invalid_parameter()
            wanted.add(value)
        else:
            wanted.add(value)
    if field in ("id", "username", "email") and wanted:
        marks = ", ".join("?" * len(wanted))
        candidates = site.db.select_users(
            f"SELECT data FROM users WHERE {field} IN ({marks}) ORDER BY id", tuple(wanted)
        )
    else:
        candidates = site.db.all_users()
    return [
        user_details(site, u)
        for u in candidates
        if (u.get(field) if field != "idnumber" else u.get("idnumber", "")) in wanted
    ]


@webservice("core_user_search_identity")
def search_identity(site: Site, params: Params) -> IdentitySearch:
    """Users whose full name, last name or identity fields contain the query (case-insensitive LIKE), exact
    matches first, then by last name, first name and id; at most ``maxusersperpage``, ``overflow`` beyond."""
    query = params.get("query")
    if not isinstance(query, str):
        raise invalid_parameter()
    query = re.sub(r"<[^>]*>", "", query)  # PARAM_TEXT's cleaning
    contains = like(f"%{query}%")
    found = [
        u
        for u in site.db.all_users()
        if u["id"] != fixture.GUEST_USER_ID
        and (not query or any(contains.fullmatch(text) for text in (_fullname(u), u["lastname"], *_identity(u))))
    ]
    found.sort(key=lambda u: (not _exact_match(u, query), u["lastname"], u["firstname"], u["id"]))
    limit = int(site.config["maxusersperpage"])
    listed: list[FoundIdentity] = [
        {
            "id": u["id"],
            "fullname": _fullname(u),
            "extrafields": [{"name": f, "value": _escaped(str(u.get(f, "")))} for f in IDENTITY_FIELDS],
        }
        for u in found[:limit]
    ]
    return {"list": listed, "maxusersperpage": limit, "overflow": len(found) > limit}


def _fullname(user: UserRecord) -> str:
    return f"{user['firstname']} {user['lastname']}"


def _identity(user: UserRecord) -> list[str]:
    return [str(user.get(f, "")) for f in IDENTITY_FIELDS]


def _exact_match(user: UserRecord, query: str) -> bool:
    """users_order_by_sql(): the full name as typed, or a name or an identity field in any case."""
    if not query:
        return False
    others = (user["firstname"], user["lastname"], *_identity(user))
    return _fullname(user) == query or any(text.lower() == query.lower() for text in others)


def _escaped(text: str) -> str:
    """s(): htmlspecialchars with ENT_QUOTES, numeric entities left as they were."""
    escaped = html.escape(text, quote=True).replace("&#x27;", "&#039;")
    return re.sub(r"&amp;#(\d+|x[0-9a-f]+);", r"&#\1;", escaped, flags=re.IGNORECASE)
