"""Moodle's user records: the profile fields a web service may set, their limits, the password policy, and
user_get_user_details() (the record as web services answer it, shared by the user and enrolment functions)."""

from __future__ import annotations

import re
from typing import Any

from .db import UserRecord
from .registry import Site

USER_TEXT_FIELDS = (
    "idnumber",
    "city",
    "country",
    "institution",
    "department",
    "phone1",
    "phone2",
    "address",
    "lang",
    "timezone",
    "description",
    "interests",
    "middlename",
    "alternatename",
    "firstnamephonetic",
    "lastnamephonetic",
    "theme",
    "calendartype",
)
# Column sizes of Moodle's user table: longer values fail the insert (dmlwriteexception).
MAX_LENGTHS = {
    "username": 100,
    "firstname": 100,
    "lastname": 100,
    "email": 100,
    "city": 120,
    "institution": 255,
    "department": 255,
    "idnumber": 255,
    "phone1": 20,
    "phone2": 20,
    "address": 255,
    "country": 2,
}
AUTH_PLUGINS = {
    "manual",
    "nologin",
    "email",
    "ldap",
    "cas",
    "oauth2",
    "db",
    "shibboleth",
    "lti",
    "webservice",
}


def password_problems(password: str) -> list[str]:
    """The default password policy's complaints, in Moodle's order and words."""
    problems = []
    if len(password) < 8:
        problems.append("Passwords must be at least 8 characters long.")
    if not re.search(r"\d", password):
        problems.append("Passwords must have at least 1 digit(s).")
    if not re.search(r"[a-z]", password):
        problems.append("Passwords must have at least 1 lower case letter(s).")
    if not re.search(r"[A-Z]", password):
        problems.append("Passwords must have at least 1 upper case letter(s).")
    if not re.search(r"[^a-zA-Z0-9]", password):
        problems.append("The password must have at least 1 special character(s) such as *, -, or #.")
    return problems


def user_details(site: Site, user: UserRecord) -> dict[str, Any]:
    """user_get_user_details(): the key order and the keys left out when empty, as recorded."""
    out: dict[str, Any] = {
        "id": user["id"],
        "username": user["username"],
        "firstname": user["firstname"],
        "lastname": user["lastname"],
        "fullname": f"{user['firstname']} {user['lastname']}",
        "email": user["email"],
    }
    for key in ("address", "phone1", "phone2"):
        if user.get(key):
            out[key] = user[key]
    out["department"] = user.get("department", "")
    for key in ("institution", "idnumber", "interests"):
        if user.get(key):
            out[key] = user[key]
    out.update(
        {
            "firstaccess": 0,
            "lastaccess": 0,
            "auth": user.get("auth", "manual"),
            "suspended": bool(user.get("suspended")),
            "confirmed": True,
            "lang": user.get("lang") or "en",
            "theme": user.get("theme", ""),
            "timezone": user.get("timezone") or "99",
            "mailformat": 1,
            "trackforums": 0,
        }
    )
    if user.get("description"):
        out["description"] = user["description"]
        out["descriptionformat"] = user.get("descriptionformat", 1)
    for key in ("city", "country"):
        if user.get(key):
            out[key] = user[key]
    out["profileimageurlsmall"] = site.user_picture("f2")
    out["profileimageurl"] = site.user_picture("f1")
    if user.get("preferences"):
        out["preferences"] = user["preferences"]
    return out
