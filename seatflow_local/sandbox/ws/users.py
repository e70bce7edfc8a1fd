"""core_user_* that write users: create them (checked, then inserted and mailed one by one), update them.

The functions that find users are in ``user_lookups``.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ..db import UserRecord
from ..errors import WsError, db_write_error, invalid_parameter, moodle_exception
from ..params import Params, as_bool, as_int, clean_username, items, valid_email
from ..registry import Site, webservice
from ..user_records import AUTH_PLUGINS, MAX_LENGTHS, USER_TEXT_FIELDS, password_problems


class WsWarning(TypedDict, total=False):
    """An item of a ``warnings`` list (``itemid`` only where Moodle names the item)."""

    item: str
    itemid: int
    warningcode: str
    message: str


class CreatedUser(TypedDict):
    id: int
    username: str


@webservice("core_user_create_users", own_transaction=True)
def create_users(site: Site, params: Params) -> list[CreatedUser]:
    """One transaction in which Moodle checks each user, then inserts and mails it: a refused user refuses the
    batch, yet the users inserted before it have had their mail and consumed their ids.

    Other calls see none of the batch before the commit, so two creates of one new username in flight at once
    both pass the check, and the unique index refuses the second insert (``dmlwriteexception``). The sandbox
    checks the batch first, spends the call's latency, then inserts: the same window, the same answers.
    """
    users = _parsed(params)  # a malformed item refuses the call before any insert
    with site.db.lock:
        checked = _checked(site, users)
    time.sleep(site.latency)
    with site.transaction():
        created = [_insert(site, user) for user in checked.passed]
        if checked.refusal:
            raise checked.refusal
    return created


def _parsed(params: Params) -> list[dict[str, Any]]:
    """external_api::validate_parameters() on every item, before the function runs."""
    users = items(params, "users", ("username", "firstname", "lastname", "email"))
    if not users:
        raise invalid_parameter()
    for user in users:
        if clean_username(str(user["username"])) != user["username"]:
            raise invalid_parameter()
        if "createpassword" in user:
            user["createpassword"] = as_bool(user["createpassword"])
        if str(user.get("auth", "manual")) not in AUTH_PLUGINS:
            raise invalid_parameter()
        user["email"] = str(user["email"]).strip()
    return users


@dataclass
class _Checked:
    """The users before the first refused one, and its refusal (None: all passed)."""

    passed: list[dict[str, Any]] = field(default_factory=list)
    refusal: WsError | None = None
    usernames: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)  # lower-cased


def _checked(site: Site, users: list[dict[str, Any]]) -> _Checked:
    """Each user checked as Moodle checks it: against the committed users and those of the batch before it."""
    checked = _Checked()
    for user in users:
        try:
            _check_new_user(site, user, checked)
        except WsError as refusal:
            checked.refusal = refusal
            break
        checked.passed.append(user)
        checked.usernames.add(user["username"])
        checked.emails.add(user["email"].lower())
    return checked


def _check_new_user(site: Site, user: dict[str, Any], batch: _Checked) -> None:
    """user_create_user()'s checks, in Moodle's order."""
    username = user["username"]
    if username in batch.usernames or site.db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
        raise invalid_parameter()  # Username already exists
    if not user.get("password") and not user.get("createpassword"):
        raise invalid_parameter()  # you must provide a password, or set createpassword
    if not valid_email(user["email"]):
        raise invalid_parameter()  # Email address is invalid
    if not int(site.config.get("allowaccountssameemail", 1)) and (
        user["email"].lower() in batch.emails
        or site.db.execute("SELECT 1 FROM users WHERE lower(email) = lower(?)", (user["email"],)).fetchone()
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


def _insert(site: Site, user: dict[str, Any]) -> CreatedUser:
    """The insert (the unique index on username refuses a taken one), then the mail, at once."""
    record: UserRecord = {
        "id": site.db.next_id("users"),  # a sequence: not given back by a rollback
        "username": user["username"],
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
    try:
        site.db.insert_user(record)
    except sqlite3.IntegrityError:
        raise db_write_error() from None  # another call committed this username since the check
    if user.get("createpassword"):
        site.outbox.append(
            {
                "to": record["email"],
                "username": record["username"],
                "user_id": record["id"],
                "subject": "New user account",
                "phantom": False,
            }
        )
    return {"id": record["id"], "username": record["username"]}


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
