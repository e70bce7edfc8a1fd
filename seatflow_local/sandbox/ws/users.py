"""core_user_*: find users (by criteria, by field), create them, update them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypedDict

from ..db import UserRecord
from ..errors import coding_error, db_write_error, invalid_parameter, moodle_exception
from ..params import Params, as_bool, as_int, clean_username, items, valid_email
from ..registry import Mail, Site, webservice
from ..user_records import AUTH_PLUGINS, MAX_LENGTHS, USER_TEXT_FIELDS, password_problems, user_details

SEARCHABLE_KEYS = {"id", "lastname", "firstname", "idnumber", "username", "email", "auth"}


class WsWarning(TypedDict, total=False):
    """An item of a ``warnings`` list (``itemid`` only where Moodle names the item)."""

    item: str
    itemid: int
    warningcode: str
    message: str


class CreatedUser(TypedDict):
    id: int
    username: str


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
    criteria = items(params, "criteria", ("key", "value"))
    if not criteria:
        raise invalid_parameter()
    warnings: list[WsWarning] = []
    tests: list[Callable[[UserRecord], bool]] = []
    for criterion in criteria:
        key, value = str(criterion["key"]), str(criterion["value"])
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


@webservice("core_user_create_users")
def create_users(site: Site, params: Params) -> list[CreatedUser]:
    users = items(params, "users", ("username", "firstname", "lastname", "email"))
    if not users:
        raise invalid_parameter()
    for user in users:  # structure validation of every item first
        if clean_username(str(user["username"])) != user["username"]:
            raise invalid_parameter()
        if "createpassword" in user:
            user["createpassword"] = as_bool(user["createpassword"])
        if str(user.get("auth", "manual")) not in AUTH_PLUGINS:
            raise invalid_parameter()
        user["email"] = str(user["email"]).strip()
    created: list[CreatedUser] = []
    mails: list[Mail] = []
    for user in users:
        username = user["username"]
        _check_new_user(site, user)
        record: UserRecord = {
            "id": site.db.next_id("users"),  # a sequence: not given back by a rollback
            "username": username,
            "firstname": str(user["firstname"]),
            "lastname": str(user["lastname"]),
            "email": user["email"],
            "auth": str(user.get("auth", "manual")),
            "suspended": False,
        }
        for key in USER_TEXT_FIELDS:
            if user.get(key) not in (None, ""):
                record[key] = str(user[key])
        if any(len(str(record.get(k, ""))) > n for k, n in MAX_LENGTHS.items()):
            raise db_write_error()
        site.db.insert_user(record)
        created.append({"id": record["id"], "username": username})
        if user.get("createpassword"):
            mails.append(
                {"to": record["email"], "username": username, "user_id": record["id"], "subject": "New user account"}
            )
    site.outbox.extend(mails)
    return created


def _check_new_user(site: Site, user: dict[str, Any]) -> None:
    """user_create_user()'s checks, in Moodle's order; the first that fails refuses the whole batch."""
    if site.db.execute("SELECT 1 FROM users WHERE username = ?", (user["username"],)).fetchone():
        raise invalid_parameter()  # Username already exists
    if not user.get("password") and not user.get("createpassword"):
        raise invalid_parameter()  # you must provide a password, or set createpassword
    if not valid_email(user["email"]):
        raise invalid_parameter()  # Email address is invalid
    if (
        not int(site.config.get("allowaccountssameemail", 1))
        and site.db.execute("SELECT 1 FROM users WHERE lower(email) = lower(?)", (user["email"],)).fetchone()
    ):
        raise invalid_parameter()  # Email address already exists
    for name in ("firstname", "lastname"):
        if not str(user[name]).strip():
            raise invalid_parameter()  # The field ... cannot be blank
    if user.get("password") and not user.get("createpassword"):
        problems = password_problems(str(user["password"]))
        if problems:
            text = "".join(f"<div>{p}</div>" for p in problems)
            raise moodle_exception(text, "error/" + text)


@webservice("core_user_update_users")
def update_users(site: Site, params: Params) -> dict[str, list[WsWarning]]:
    """Per-user problems are warnings, never errors (as recorded); a malformed username is an error."""
    warnings: list[WsWarning] = []
    for change in items(params, "users", ("id",)):
        user_id = as_int(change["id"])
        user = site.db.user(user_id)
        if user is None:
            warnings.append(_user_warning(user_id, "invaliduserid", "Invalid user ID"))
            continue
        if "email" in change:
            email = str(change["email"]).strip()
            if not valid_email(email):
                warnings.append(_user_warning(user_id, "useremailinvalid", "error/useremailinvalid"))
                continue
            user["email"] = email
        if "username" in change:
            username = str(change["username"])
            if clean_username(username) != username:
                raise invalid_parameter()
            other = site.db.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
            if other and other["id"] != user_id:
                warnings.append(_user_warning(user_id, "dmlwriteexception", "Error writing to database"))
                continue
            user["username"] = username
        if "suspended" in change:
            user["suspended"] = as_bool(change["suspended"])
        for key in ("firstname", "lastname", "auth", *USER_TEXT_FIELDS):
            if key in change:
                user[key] = str(change[key])
        site.db.save_user(user)
    return {"warnings": warnings}


def _user_warning(user_id: int, warningcode: str, message: str) -> WsWarning:
    return {"item": "user", "itemid": user_id, "warningcode": warningcode, "message": message}
