"""The sandbox's Moodle: state in SQLite, and the web-service functions seatflow uses.

Every behaviour here mirrors a recording in ../shared/moodle-ws (errorcodes, exceptions, case
sensitivities, silence on repeats, batch atomicity). One SQLite connection guarded by a lock; each
web-service call runs in one transaction (Moodle's delegated transactions), and ids come from
sequences that a rollback does not give back (as on PostgreSQL).
"""

# ruff: noqa: E501  (SQL statements and Moodle's messages are kept on one line, verbatim)
from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from . import fixture

INVALID_PARAMETER = (
    "core\\exception\\invalid_parameter_exception",
    "invalidparameter",
    "Invalid parameter value detected",
)
WS_VERSION = "2024100711.02"


class WsError(Exception):
    """An error envelope Moodle would answer (HTTP 200)."""

    def __init__(self, exception: str, errorcode: str | None, message: str) -> None:
        super().__init__(message)
        self.envelope: dict[str, Any] = {"exception": exception}
        if errorcode is not None:
            self.envelope["errorcode"] = errorcode
        self.envelope["message"] = message


def invalid_parameter() -> WsError:
    return WsError(*INVALID_PARAMETER)


def missing_record(table: str) -> WsError:
    return WsError(
        "dml_missing_record_exception", "invalidrecord", f"Can't find data record in database table {table}."
    )


def invalid_user() -> WsError:
    return WsError("dml_missing_record_exception", "invaliduser", "Invalid user")


def course_context_error(course_id: Any) -> WsError:
    return WsError(
        "core\\exception\\moodle_exception",
        "errorcoursecontextnotvalid",
        f"You cannot execute functions in the course context (course id:{course_id}). "
        "The context error message was: Invalid parameter value detected",
    )


def db_write_error() -> WsError:
    return WsError("dml_write_exception", "dmlwriteexception", "Error writing to database")


# --- parameter helpers (Moodle's external_api::validate_parameters, the parts we need) ---------------


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``users[0][username]=x`` -> ``{"users": [{"username": "x"}]}`` (PHP's reading of form fields)."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        match = re.match(r"^([^\[]+)((?:\[[^\]]*\])*)$", name)
        if not match:
            continue
        keys = [match.group(1)] + re.findall(r"\[([^\]]*)\]", match.group(2))
        node = root
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[keys[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and all(re.fullmatch(r"\d+", k) for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def as_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise invalid_parameter()


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true"):
        return True
    if text in ("0", "false", ""):
        return False
    raise invalid_parameter()


def items(params: dict[str, Any], key: str, required: tuple[str, ...] = (), *, optional: bool = False) -> list[dict]:
    value = params.get(key)
    if value is None:
        if optional:
            return []
        raise invalid_parameter()
    if isinstance(value, dict) and not value:
        value = []
    if not isinstance(value, list):
        raise invalid_parameter()
    for item in value:
        if not isinstance(item, dict) or any(k not in item for k in required):
            raise invalid_parameter()
    return value


def clean_username(value: str) -> str:
    return re.sub(r"[^-.@_a-z0-9]", "", value.strip().lower().replace(" ", ""))


_EMAIL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
    re.IGNORECASE,
)


def valid_email(value: str) -> bool:
    return bool(_EMAIL.match(value)) and len(value) <= 254


def like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE, case-insensitive: ``%`` any run, ``_`` one character (no escape character)."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def password_problems(password: str) -> list[str]:
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

SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL,
                    data TEXT NOT NULL);
CREATE INDEX users_email ON users (email);
CREATE TABLE courses (id INTEGER PRIMARY KEY, shortname TEXT NOT NULL, idnumber TEXT NOT NULL,
                      context_id INTEGER NOT NULL, manual_enabled INTEGER NOT NULL, sortorder INTEGER NOT NULL,
                      data TEXT NOT NULL);
CREATE TABLE roles (id INTEGER PRIMARY KEY, shortname TEXT NOT NULL, name TEXT NOT NULL, levels TEXT NOT NULL);
CREATE TABLE user_enrolments (course_id INTEGER NOT NULL, user_id INTEGER NOT NULL, status INTEGER NOT NULL,
                              timestart INTEGER NOT NULL, timeend INTEGER NOT NULL,
                              PRIMARY KEY (course_id, user_id));
CREATE TABLE role_assignments (role_id INTEGER NOT NULL, user_id INTEGER NOT NULL, context_id INTEGER NOT NULL,
                               PRIMARY KEY (role_id, user_id, context_id));
CREATE TABLE groups_ (id INTEGER PRIMARY KEY, course_id INTEGER NOT NULL, name TEXT NOT NULL,
                      description TEXT NOT NULL, descriptionformat INTEGER NOT NULL, enrolmentkey TEXT,
                      idnumber TEXT NOT NULL, visibility INTEGER NOT NULL, participation INTEGER NOT NULL);
CREATE TABLE group_members (group_id INTEGER NOT NULL, user_id INTEGER NOT NULL, PRIMARY KEY (group_id, user_id));
"""


class Store:
    """The sandbox site. Web-service functions are ``ws_<wsfunction>`` methods; inspection helpers below."""

    def __init__(self, site_url: str = "http://127.0.0.1", clock: Callable[[], float] = time.time) -> None:
        self.site_url = site_url
        self.clock = clock
        self.lock = threading.RLock()
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)
        self.outbox: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.config: dict[str, Any] = {}
        self.allowed_functions: list[str] = []
        self.service_functions: tuple[str, ...] = ()
        self.faults = 0
        self.reset()

    # --- lifecycle ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the recordings' fixture (users 1-8, courses 1-4, no enrolments, no groups)."""
        with self.lock:
            db = self.db
            db.execute("BEGIN")
            for table in (
                "users",
                "courses",
                "roles",
                "user_enrolments",
                "role_assignments",
                "groups_",
                "group_members",
            ):
                db.execute(f"DELETE FROM {table}")
            for user in fixture.USERS:
                db.execute(
                    "INSERT INTO users VALUES (?, ?, ?, ?)",
                    (user["id"], user["username"], user["email"], json.dumps(user)),
                )
            for course in fixture.COURSES:
                db.execute(
                    "INSERT INTO courses VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        course["id"],
                        course["shortname"],
                        course["idnumber"],
                        fixture.COURSE_CONTEXTS[course["id"]],
                        int(fixture.MANUAL_ENROL_ENABLED[course["id"]]),
                        course["sortorder"],
                        json.dumps(course),
                    ),
                )
            for rid, shortname, name, levels in fixture.ROLES:
                db.execute(
                    "INSERT INTO roles VALUES (?, ?, ?, ?)",
                    (rid, shortname, name, json.dumps(sorted(levels))),
                )
            db.execute("COMMIT")
            self.next_user_id = fixture.NEXT_USER_ID
            self.next_group_id = fixture.NEXT_GROUP_ID
            self.outbox.clear()
            self.calls.clear()
            self.config = {"allowaccountssameemail": fixture.ALLOW_ACCOUNTS_SAME_EMAIL}
            self.allowed_functions = list(self.service_functions)
            self.faults = 0

    # --- the token's service ----------------------------------------------------------------------
    def set_allowed_functions(self, functions: Any) -> None:
        """Functions in the token's service (None: all implemented); others answer accessexception."""
        with self.lock:
            self.allowed_functions = list(self.service_functions if functions is None else functions)

    def deny_function(self, wsfunction: str) -> None:
        with self.lock:
            self.allowed_functions = [f for f in self.allowed_functions if f != wsfunction]

    def allow_function(self, wsfunction: str) -> None:
        with self.lock:
            if wsfunction not in self.allowed_functions:
                self.allowed_functions.append(wsfunction)

    def count_fault(self) -> None:
        with self.lock:
            self.faults += 1

    def faults_injected(self) -> int:
        """How many calls answered a fault (503, hang, HTML page) since the last reset."""
        with self.lock:
            return self.faults

    def set_config(self, name: str, value: Any) -> None:
        with self.lock:
            self.config[name] = value

    def dispatch(self, wsfunction: str, params: dict[str, Any]) -> Any:
        """Run one web-service function in one transaction; raise WsError like Moodle would."""
        handler = getattr(self, "ws_" + wsfunction)
        with self.lock:
            mails_before = len(self.outbox)
            self.db.execute("BEGIN")
            try:
                result = handler(params)
            except BaseException:
                self.db.execute("ROLLBACK")
                del self.outbox[mails_before:]
                raise
            self.db.execute("COMMIT")
            return result

    def count_call(self, wsfunction: str) -> None:
        with self.lock:
            self.calls[wsfunction] += 1

    # --- row helpers --------------------------------------------------------------------------------
    def _user(self, user_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM users WHERE id = ?", (user_id,)).fetchone()
        return json.loads(row["data"]) if row else None

    def _all_users(self) -> list[dict[str, Any]]:
        return [json.loads(r["data"]) for r in self.db.execute("SELECT data FROM users ORDER BY id")]

    def _save_user(self, user: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE users SET username = ?, email = ?, data = ? WHERE id = ?",
            (user["username"], user["email"], json.dumps(user), user["id"]),
        )

    def _course(self, course_id: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM courses WHERE id = ?", (course_id,)).fetchone()

    def _role(self, role_id: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM roles WHERE id = ?", (role_id,)).fetchone()

    def _assignable(self, role_id: int, contextlevel: int) -> bool:
        role = self._role(role_id)
        return role is not None and contextlevel in json.loads(role["levels"])

    def _enrolment(self, course_id: int, user_id: int) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM user_enrolments WHERE course_id = ? AND user_id = ?", (course_id, user_id)
        ).fetchone()

    def _active(self, enrolment: sqlite3.Row) -> bool:
        now = self.clock()
        return (
            enrolment["status"] == 0
            and enrolment["timestart"] <= now
            and (enrolment["timeend"] == 0 or enrolment["timeend"] > now)
        )

    def _group(self, group_id: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM groups_ WHERE id = ?", (group_id,)).fetchone()

    def _context(self, contextid: int) -> tuple[int, int] | None:
        """context id -> (contextlevel, instanceid)."""
        if contextid == 1:
            return 10, 0
        row = self.db.execute("SELECT id FROM courses WHERE context_id = ?", (contextid,)).fetchone()
        if row:
            return 50, row["id"]
        user_id = contextid - fixture.FIRST_USER_CONTEXT_ID
        if user_id > 0 and self._user(user_id):
            return 30, user_id
        return None

    def _context_id(self, contextlevel: int, instanceid: int) -> int | None:
        if contextlevel == 10:
            return 1
        if contextlevel == 50:
            course = self._course(instanceid)
            return course["context_id"] if course else None
        if contextlevel == 30:
            return fixture.FIRST_USER_CONTEXT_ID + instanceid if self._user(instanceid) else None
        return None  # categories, modules, blocks: none on this site

    def _picture(self, size: str) -> str:
        return f"{self.site_url}/theme/image.php/boost/core/1/u/{size}"

    def user_details(self, user: dict[str, Any]) -> dict[str, Any]:
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
        out["profileimageurlsmall"] = self._picture("f2")
        out["profileimageurl"] = self._picture("f1")
        if user.get("preferences"):
            out["preferences"] = user["preferences"]
        return out

    # --- site -------------------------------------------------------------------------------------
    def site_info(self, functions: list[str]) -> dict[str, Any]:
        info = dict(fixture.SITE_INFO)
        info.update(
            {
                "siteurl": self.site_url,
                "userpictureurl": self._picture("f1"),
                "functions": [{"name": f, "version": fixture.FUNCTION_VERSIONS.get(f, WS_VERSION)} for f in functions],
            }
        )
        return info

    # --- users ------------------------------------------------------------------------------------
    def ws_core_user_get_users(self, params: dict[str, Any]) -> Any:
        criteria = items(params, "criteria", ("key", "value"))
        if not criteria:
            raise invalid_parameter()
        supported = {"id", "lastname", "firstname", "idnumber", "username", "email", "auth"}
        warnings, tests = [], []
        for criterion in criteria:
            key, value = str(criterion["key"]), str(criterion["value"])
            if key not in supported:
                warnings.append(
                    {
                        "item": key,
                        "warningcode": "invalidfieldparameter",
                        "message": f"The search key '{key}' is not supported, look at the web service documentation",
                    }
                )
                continue
            if key == "id":
                wanted = as_int(value)
                tests.append(lambda u, w=wanted: u["id"] == w)
            elif key in ("email", "firstname", "lastname"):
                if key == "email" and value != value.strip():
                    raise invalid_parameter()
                pattern = like(value)
                tests.append(lambda u, k=key, p=pattern: bool(p.fullmatch(u.get(k, ""))))
            else:
                tests.append(lambda u, k=key, v=value: u.get(k, "") == v)
        candidates = self._users_where(criteria) if tests else self._all_users()
        users = [self.user_details(u) for u in candidates if all(t(u) for t in tests)]
        return {"users": users, "warnings": warnings}

    def _users_where(self, criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
            return [json.loads(r["data"]) for r in self.db.execute(sql, (arg,))]
        return self._all_users()

    def ws_core_user_get_users_by_field(self, params: dict[str, Any]) -> Any:
        field = params.get("field")
        if not isinstance(field, str):
            raise invalid_parameter()
        values = params.get("values")
        if not isinstance(values, list) or any(not isinstance(v, str) for v in values):
            raise invalid_parameter()
        if field not in ("id", "idnumber", "username", "email"):
            raise WsError(
                "core\\exception\\coding_exception",
                "codingerror",
                "Coding error detected, it must be fixed by a programmer: invalid field parameter",
            )
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
            rows = self.db.execute(f"SELECT data FROM users WHERE {field} IN ({marks}) ORDER BY id", tuple(wanted))
            candidates = [json.loads(r["data"]) for r in rows]
        else:
            candidates = self._all_users()
        return [
            self.user_details(u)
            for u in candidates
            if (u.get(field) if field != "idnumber" else u.get("idnumber", "")) in wanted
        ]

    def ws_core_user_create_users(self, params: dict[str, Any]) -> Any:
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
        created, mails = [], []
        for user in users:
            username = user["username"]
            if self.db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise invalid_parameter()  # Username already exists
            if not user.get("password") and not user.get("createpassword"):
                raise invalid_parameter()  # you must provide a password, or set createpassword
            if not valid_email(user["email"]):
                raise invalid_parameter()  # Email address is invalid
            if (
                not int(self.config.get("allowaccountssameemail", 1))
                and self.db.execute("SELECT 1 FROM users WHERE lower(email) = lower(?)", (user["email"],)).fetchone()
            ):
                raise invalid_parameter()  # Email address already exists
            for name in ("firstname", "lastname"):
                if not str(user[name]).strip():
                    raise invalid_parameter()  # The field ... cannot be blank
            if user.get("password") and not user.get("createpassword"):
                problems = password_problems(str(user["password"]))
                if problems:
                    text = "".join(f"<div>{p}</div>" for p in problems)
                    raise WsError("core\\exception\\moodle_exception", text, "error/" + text)
            record = {
                "id": self.next_user_id,
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
            self.next_user_id += 1  # a sequence: not given back by a rollback
            if any(len(str(record.get(k, ""))) > n for k, n in MAX_LENGTHS.items()):
                raise db_write_error()
            self.db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?)",
                (record["id"], username, record["email"], json.dumps(record)),
            )
            created.append({"id": record["id"], "username": username})
            if user.get("createpassword"):
                mails.append(
                    {
                        "to": record["email"],
                        "username": username,
                        "user_id": record["id"],
                        "subject": "New user account",
                    }
                )
        self.outbox.extend(mails)
        return created

    def ws_core_user_update_users(self, params: dict[str, Any]) -> Any:
        users = items(params, "users", ("id",))
        warnings = []
        for change in users:
            user_id = as_int(change["id"])
            user = self._user(user_id)
            if user is None:
                warnings.append(
                    {
                        "item": "user",
                        "itemid": user_id,
                        "warningcode": "invaliduserid",
                        "message": "Invalid user ID",
                    }
                )
                continue
            if "email" in change:
                email = str(change["email"]).strip()
                if not valid_email(email):
                    warnings.append(
                        {
                            "item": "user",
                            "itemid": user_id,
                            "warningcode": "useremailinvalid",
                            "message": "error/useremailinvalid",
                        }
                    )
                    continue
                user["email"] = email
            if "username" in change:
                username = str(change["username"])
                if clean_username(username) != username:
                    raise invalid_parameter()
                other = self.db.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
                if other and other["id"] != user_id:
                    warnings.append(
                        {
                            "item": "user",
                            "itemid": user_id,
                            "warningcode": "dmlwriteexception",
                            "message": "Error writing to database",
                        }
                    )
                    continue
                user["username"] = username
            if "suspended" in change:
                user["suspended"] = as_bool(change["suspended"])
            for key in ("firstname", "lastname", "auth", *USER_TEXT_FIELDS):
                if key in change:
                    user[key] = str(change[key])
            self._save_user(user)
        return {"warnings": warnings}

    # --- enrolments -------------------------------------------------------------------------------
    def ws_enrol_manual_enrol_users(self, params: dict[str, Any]) -> Any:
        enrolments = items(params, "enrolments", ("roleid", "userid", "courseid"))
        parsed = []
        for e in enrolments:
            parsed.append(
                {
                    "roleid": as_int(e["roleid"]),
                    "userid": as_int(e["userid"]),
                    "courseid": as_int(e["courseid"]),
                    "timestart": as_int(e["timestart"]) if "timestart" in e else None,
                    "timeend": as_int(e["timeend"]) if "timeend" in e else None,
                    "suspend": as_bool(e["suspend"]) if "suspend" in e else None,
                }
            )
        for e in parsed:
            course = self._course(e["courseid"])
            if course is None:
                raise invalid_parameter()  # Context does not exist
            if not self._assignable(e["roleid"], 50):
                raise WsError(
                    "core\\exception\\moodle_exception",
                    "wsusercannotassign",
                    f"You don't have the permission to assign this role ({e['roleid']}) to this user "
                    f"({e['userid']}) in this course ({e['courseid']}).",
                )
            if not course["manual_enabled"]:
                raise WsError(
                    "core\\exception\\moodle_exception",
                    "wsnoinstance",
                    "Manual enrolment plugin instance doesn't exist or is disabled for the course "
                    f"(id = {e['courseid']})",
                )
            if self._user(e["userid"]) is None:
                raise invalid_user()
            existing = self._enrolment(e["courseid"], e["userid"])
            status = None if e["suspend"] is None else int(e["suspend"])
            if existing is None:
                self.db.execute(
                    "INSERT INTO user_enrolments VALUES (?, ?, ?, ?, ?)",
                    (e["courseid"], e["userid"], status or 0, e["timestart"] or 0, e["timeend"] or 0),
                )
            else:
                self.db.execute(
                    "UPDATE user_enrolments SET status = coalesce(?, status), timestart = coalesce(?, timestart),"
                    " timeend = coalesce(?, timeend) WHERE course_id = ? AND user_id = ?",
                    (status, e["timestart"], e["timeend"], e["courseid"], e["userid"]),
                )
            self.db.execute(
                "INSERT OR IGNORE INTO role_assignments VALUES (?, ?, ?)",
                (e["roleid"], e["userid"], course["context_id"]),
            )
        return None

    def ws_enrol_manual_unenrol_users(self, params: dict[str, Any]) -> Any:
        enrolments = items(params, "enrolments", ("userid", "courseid"))
        for e in enrolments:
            user_id, course_id = as_int(e["userid"]), as_int(e["courseid"])
            if "roleid" in e:
                as_int(e["roleid"])
            course = self._course(course_id)
            if course is None:
                raise missing_record("course")
            if self._user(user_id) is None:
                raise invalid_user()
            if self._enrolment(course_id, user_id) is None:
                continue
            self.db.execute("DELETE FROM user_enrolments WHERE course_id = ? AND user_id = ?", (course_id, user_id))
            self.db.execute(
                "DELETE FROM role_assignments WHERE user_id = ? AND context_id = ?",
                (user_id, course["context_id"]),
            )
            self.db.execute(
                "DELETE FROM group_members WHERE user_id = ? AND group_id IN "
                "(SELECT id FROM groups_ WHERE course_id = ?)",
                (user_id, course_id),
            )
        return None

    def ws_core_enrol_get_course_enrolment_methods(self, params: dict[str, Any]) -> Any:
        course_id = as_int(params.get("courseid"))
        if self._course(course_id) is None:
            raise missing_record("course")
        return []  # manual enrolment publishes no enrolment info (recorded: [] for every course)

    def ws_core_enrol_get_enrolled_users(self, params: dict[str, Any]) -> Any:
        if "courseid" not in params:
            raise invalid_parameter()
        course_id = as_int(params["courseid"])
        options = {str(o["name"]): o["value"] for o in items(params, "options", ("name", "value"), optional=True)}
        course = self._course(course_id)
        if course is None:
            raise missing_record("course")
        userfields = None
        if "userfields" in options:
            userfields = {f.strip() for f in str(options["userfields"]).split(",") if f.strip()} | {
                "id",
                "fullname",
            }
        onlyactive = as_bool(options.get("onlyactive", "0"))
        groupid = as_int(options["groupid"]) if "groupid" in options else 0
        rows = self.db.execute(
            "SELECT * FROM user_enrolments WHERE course_id = ? ORDER BY user_id", (course_id,)
        ).fetchall()
        result = []
        for enrolment in rows:
            if onlyactive and not self._active(enrolment):
                continue
            user_id = enrolment["user_id"]
            if (
                groupid
                and not self.db.execute(
                    "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?", (groupid, user_id)
                ).fetchone()
            ):
                continue
            user = self._user(user_id)
            if user is None:
                continue
            details = self.user_details(user)
            # In a course context Moodle leaves out the site-administration fields (as recorded).
            for key in (
                "preferences",
                "auth",
                "confirmed",
                "lang",
                "mailformat",
                "suspended",
                "theme",
                "timezone",
                "trackforums",
            ):
                details.pop(key, None)
            out: dict[str, Any] = {}
            for key, value in details.items():
                out[key] = value
                if key == "lastaccess":
                    out["lastcourseaccess"] = 0
            groups = self.db.execute(
                "SELECT g.id, g.name, g.description, g.descriptionformat FROM groups_ g JOIN group_members m "
                "ON m.group_id = g.id WHERE g.course_id = ? AND m.user_id = ? ORDER BY g.name",
                (course_id, user_id),
            ).fetchall()
            if groups:
                out["groups"] = [dict(g) for g in groups]
            out["roles"] = [
                {"roleid": r["id"], "name": r["name"], "shortname": r["shortname"], "sortorder": 0}
                for r in self.db.execute(
                    "SELECT r.* FROM roles r JOIN role_assignments a ON a.role_id = r.id "
                    "WHERE a.user_id = ? AND a.context_id = ? ORDER BY r.id",
                    (user_id, course["context_id"]),
                )
            ]
            courses = [
                {"id": c["id"], "fullname": json.loads(c["data"])["fullname"], "shortname": c["shortname"]}
                for c in self.db.execute(
                    "SELECT c.* FROM courses c JOIN user_enrolments e ON e.course_id = c.id "
                    "WHERE e.user_id = ? ORDER BY c.sortorder",
                    (user_id,),
                )
                if self._active(self._enrolment(c["id"], user_id))
            ]
            if courses:
                out["enrolledcourses"] = courses
            if userfields is not None:
                out = {k: v for k, v in out.items() if k in userfields}
            result.append(out)
        limitfrom = as_int(options.get("limitfrom", "0"))
        limitnumber = as_int(options.get("limitnumber", "0"))
        result = result[limitfrom:]
        return result[:limitnumber] if limitnumber else result

    # --- roles ------------------------------------------------------------------------------------
    def _resolve_context(self, item: dict[str, Any]) -> tuple[int, int]:
        """(context id, context level) of an assignment; invalidparameter when it does not exist."""
        if item.get("contextid") not in (None, "", "0"):
            contextid = as_int(item["contextid"])
            found = self._context(contextid)
            if found is None:
                raise invalid_parameter()
            return contextid, found[0]
        level_name, instance = item.get("contextlevel"), item.get("instanceid")
        if level_name in (None, "") or instance in (None, ""):
            raise invalid_parameter()
        level = fixture.CONTEXT_LEVELS.get(str(level_name))
        if level is None:
            raise invalid_parameter()  # Invalid context level
        contextid = self._context_id(level, as_int(instance))
        if contextid is None:
            raise invalid_parameter()  # Context does not exist
        return contextid, level

    def ws_core_role_assign_roles(self, params: dict[str, Any]) -> Any:
        for item in items(params, "assignments", ("roleid", "userid")):
            role_id, user_id = as_int(item["roleid"]), as_int(item["userid"])
            contextid, level = self._resolve_context(item)
            if not self._assignable(role_id, level):
                raise invalid_parameter()  # Can not assign roleid=.. in contextid=..
            if self._user(user_id) is None:
                raise WsError(
                    "core\\exception\\coding_exception",
                    "codingerror",
                    "Coding error detected, it must be fixed by a programmer: User ID does not exist or is deleted!",
                )
            self.db.execute("INSERT OR IGNORE INTO role_assignments VALUES (?, ?, ?)", (role_id, user_id, contextid))
        return None

    def ws_core_role_unassign_roles(self, params: dict[str, Any]) -> Any:
        for item in items(params, "unassignments", ("roleid", "userid")):
            role_id, user_id = as_int(item["roleid"]), as_int(item["userid"])
            contextid, level = self._resolve_context(item)
            if not self._assignable(role_id, level):
                raise invalid_parameter()
            self.db.execute(
                "DELETE FROM role_assignments WHERE role_id = ? AND user_id = ? AND context_id = ?",
                (role_id, user_id, contextid),
            )
        return None

    # --- groups -----------------------------------------------------------------------------------
    @staticmethod
    def _group_record(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "id": row["id"],
            "courseid": row["course_id"],
            "name": row["name"],
            "description": row["description"],
            "descriptionformat": row["descriptionformat"],
            "enrolmentkey": row["enrolmentkey"],
            "idnumber": row["idnumber"],
            "visibility": row["visibility"],
            "participation": bool(row["participation"]),
        }

    def ws_core_group_get_course_groups(self, params: dict[str, Any]) -> Any:
        if "courseid" not in params:
            raise invalid_parameter()
        course_id = as_int(params["courseid"])
        if self._course(course_id) is None:
            raise course_context_error(course_id)
        rows = self.db.execute("SELECT * FROM groups_ WHERE course_id = ? ORDER BY name", (course_id,))
        return [self._group_record(r) for r in rows]

    def ws_core_group_create_groups(self, params: dict[str, Any]) -> Any:
        groups = items(params, "groups", ("courseid", "name", "description"))
        for g in groups:
            as_int(g["courseid"])
        created = []
        for g in groups:
            course_id = as_int(g["courseid"])
            if self._course(course_id) is None:
                raise course_context_error(course_id)
            name = str(g["name"])
            if self.db.execute("SELECT 1 FROM groups_ WHERE course_id = ? AND name = ?", (course_id, name)).fetchone():
                raise invalid_parameter()  # Group with the same name already exists in the course
            idnumber = str(g.get("idnumber", ""))
            if (
                idnumber
                and self.db.execute(
                    "SELECT 1 FROM groups_ WHERE course_id = ? AND idnumber = ?", (course_id, idnumber)
                ).fetchone()
            ):
                raise WsError("core\\exception\\moodle_exception", "idnumbertaken", "This ID number is already in use")
            group_id = self.next_group_id
            self.next_group_id += 1
            record = {
                "id": group_id,
                "courseid": course_id,
                "name": name,
                "description": str(g["description"]),
                "descriptionformat": as_int(g.get("descriptionformat", 1)),
                "enrolmentkey": str(g.get("enrolmentkey", "")),
                "idnumber": idnumber,
                "visibility": as_int(g.get("visibility", 0)),
                "participation": as_bool(g.get("participation", "1")),
            }
            if len(name) > 254 or len(idnumber) > 100:
                raise db_write_error()
            self.db.execute(
                "INSERT INTO groups_ VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    group_id,
                    course_id,
                    name,
                    record["description"],
                    record["descriptionformat"],
                    g.get("enrolmentkey"),
                    idnumber,
                    record["visibility"],
                    int(record["participation"]),
                ),
            )
            created.append(record)
        return created

    def _members_items(self, params: dict[str, Any]) -> list[tuple[sqlite3.Row, int]]:
        out = []
        for m in items(params, "members", ("groupid", "userid")):
            group_id, user_id = as_int(m["groupid"]), as_int(m["userid"])
            group = self._group(group_id)
            if group is None:
                raise missing_record("groups")
            if self._user(user_id) is None:
                raise invalid_user()
            out.append((group, user_id))
        return out

    def ws_core_group_add_group_members(self, params: dict[str, Any]) -> Any:
        for m in items(params, "members", ("groupid", "userid")):
            as_int(m["groupid"]), as_int(m["userid"])
        for m in items(params, "members", ("groupid", "userid")):
            group = self._group(as_int(m["groupid"]))
            if group is None:
                raise missing_record("groups")
            user_id = as_int(m["userid"])
            if self._user(user_id) is None:
                raise invalid_user()
            if self._enrolment(group["course_id"], user_id) is None:
                raise invalid_parameter()  # Only enrolled users may be members of groups
            self.db.execute("INSERT OR IGNORE INTO group_members VALUES (?, ?)", (group["id"], user_id))
        return None

    def ws_core_group_delete_group_members(self, params: dict[str, Any]) -> Any:
        for group, user_id in self._members_items(params):
            self.db.execute("DELETE FROM group_members WHERE group_id = ? AND user_id = ?", (group["id"], user_id))
        return None

    def _member_ids(self, group_id: int) -> list[int]:
        """Members ordered like Moodle's groups_get_members(): by lastname, firstname."""
        ids = [
            r["user_id"] for r in self.db.execute("SELECT user_id FROM group_members WHERE group_id = ?", (group_id,))
        ]
        users = [u for u in (self._user(i) for i in ids) if u]
        return [u["id"] for u in sorted(users, key=lambda u: (u["lastname"], u["firstname"], u["id"]))]

    def ws_core_group_get_group_members(self, params: dict[str, Any]) -> Any:
        group_ids = params.get("groupids")
        if not isinstance(group_ids, list):
            raise invalid_parameter()
        result = []
        for raw in group_ids:
            group_id = as_int(raw)
            if self._group(group_id) is None:
                raise missing_record("groups")
            result.append({"groupid": group_id, "userids": self._member_ids(group_id)})
        return result

    # --- courses ----------------------------------------------------------------------------------
    def ws_core_course_get_courses_by_field(self, params: dict[str, Any]) -> Any:
        field, value = str(params.get("field", "")), str(params.get("value", ""))
        rows = self.db.execute("SELECT * FROM courses ORDER BY id").fetchall()
        if field == "":
            selected = rows
        elif field == "id":
            selected = [r for r in rows if r["id"] == as_int(value)]
        elif field == "ids":
            wanted = [as_int(v) for v in value.split(",") if v.strip()]
            if any(self._course(w) is None for w in wanted):
                # Recorded: Moodle 4.5 fails with a PHP Error (no errorcode) when one id does not exist.
                raise WsError("Error", None, 'Attempt to assign property "contextvalidated" on null')
            selected = [r for r in rows if r["id"] in wanted]
        elif field == "shortname":
            selected = [r for r in rows if r["shortname"] == value]
        elif field == "idnumber":
            selected = [r for r in rows if r["idnumber"] and r["idnumber"] == value]
        elif field == "category":
            selected = [r for r in rows if json.loads(r["data"])["categoryid"] == as_int(value)]
        elif field == "sectionid":
            selected = []
        else:
            raise invalid_parameter()
        return {"courses": [json.loads(r["data"]) for r in selected], "warnings": []}

    # --- inspection for tests ---------------------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        with self.lock:
            return self._all_users()

    def enrolments(self, course_id: int) -> list[dict[str, Any]]:
        with self.lock:
            course = self._course(course_id)
            if course is None:
                return []
            out = []
            for e in self.db.execute(
                "SELECT * FROM user_enrolments WHERE course_id = ? ORDER BY user_id", (course_id,)
            ).fetchall():
                roles = [
                    r["role_id"]
                    for r in self.db.execute(
                        "SELECT role_id FROM role_assignments WHERE user_id = ? AND context_id = ? ORDER BY role_id",
                        (e["user_id"], course["context_id"]),
                    )
                ]
                out.append(
                    {
                        "user_id": e["user_id"],
                        "role_ids": roles,
                        "timestart": e["timestart"],
                        "timeend": e["timeend"],
                        "suspended": bool(e["status"]),
                    }
                )
            return out

    def role_assignments(self, contextlevel: str | int | None = None) -> list[dict[str, Any]]:
        level = (
            fixture.CONTEXT_LEVELS.get(contextlevel, contextlevel) if isinstance(contextlevel, str) else contextlevel
        )
        names = {v: k for k, v in fixture.CONTEXT_LEVELS.items()}
        with self.lock:
            out = []
            for a in self.db.execute("SELECT * FROM role_assignments ORDER BY context_id, user_id, role_id").fetchall():
                found = self._context(a["context_id"])
                if found is None or (level is not None and found[0] != level):
                    continue
                out.append(
                    {
                        "role_id": a["role_id"],
                        "user_id": a["user_id"],
                        "context_id": a["context_id"],
                        "contextlevel": names[found[0]],
                        "instance_id": found[1],
                    }
                )
            return out

    def groups(self, course_id: int) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("SELECT * FROM groups_ WHERE course_id = ? ORDER BY id", (course_id,))
            return [self._group_record(r) for r in rows]

    def group_members(self, group_id: int) -> list[int]:
        with self.lock:
            return sorted(
                r["user_id"]
                for r in self.db.execute("SELECT user_id FROM group_members WHERE group_id = ?", (group_id,))
            )

    def call_count(self, wsfunction: str | None = None) -> int:
        with self.lock:
            return self.calls[wsfunction] if wsfunction else sum(self.calls.values())
