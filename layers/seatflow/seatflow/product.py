"""The product's handler parameters (`coursename=SPOCM1&supervisor=teacher&endtime=+35D`) and session dates.

Rules, as in the original shop handler unless noted:
- `coursename` (required): the target course's shortname.
- `supervisor` (default `teacher`): role shortname for tutors and the operator.
- `starttime`: Unix timestamp or ISO-8601 (a date or datetime; without an offset it is read as UTC).
  Default: the time the session is prepared. Clamped to the course start when the course starts later.
- `endtime`: Unix timestamp, ISO-8601, or relative to the effective start: `+35D` (days), `+12H` (hours).
  Absent: no end (0). In a URL-encoded string `+` decodes to a space, so `endtime=+35D` and
  `endtime=%2B35D` both mean 35 days.
- `customersupport`: shortname of a customer-support course.
- `duration`: days of access after the effective start when there is no `endtime` (both: refused, naming
  `duration`, since one of them would be ignored).
- `renewable` (`0`/`1`): with neither `endtime` nor `duration`, access ends one year after the start.
- `autoenrolsupervisor` (`0`/`1`, default `1`): `0`, the operator is neither enrolled in the course nor put
  in the order's group (their account is still found or created, for delegated administration).
- `requiredroles`: comma-separated roles the order's participants may hold: `student` (learners) and
  `supervisor`, or the supervisor role's shortname (tutors). Absent: both. This departs from the handler's
  default (`student` only), which would refuse every order with tutors that seatflow accepted so far.
Unknown keys, repeated keys, empty values and malformed values are refused, naming the key; every bad key
of a string is found in one reading (`product_param_errors`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Literal, TypeVar
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict

KNOWN_KEYS: tuple[str, ...] = ("coursename", "supervisor", "starttime", "endtime", "customersupport")
KNOWN_KEYS += ("duration", "renewable", "autoenrolsupervisor", "requiredroles")  # the seed's other parameters
DEFAULT_SUPERVISOR = "teacher"

# Moodle: course shortname 255 chars; role shortname PARAM_ALPHANUMEXT.
_SHORTNAME_MAX = 255
_ROLE_SHORTNAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
_UNIX = re.compile(r"\d{1,12}")
# "+35D" once '+' became a space through URL decoding, or "+35D" when it was sent as %2B.
_RELATIVE = re.compile(r"[+ ](\d{1,5})([DdHh])")
_MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z
_UNIT_SECONDS = {"D": 86400, "H": 3600}
_MAX_DURATION_DAYS = 36_500
ParticipantRole = Literal["learner", "tutor"]
# What a participant holds, by role: learners are students, tutors hold the product's supervisor role.
_ROLE_HELD: dict[str, str] = {"learner": "student", "tutor": "supervisor"}

T = TypeVar("T")


class ProductParamError(ValueError):
    """A product parameter is missing, unknown or malformed. `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class RelativeEnd(BaseModel):
    """`+35D` / `+12H`: an end relative to the effective start."""

    model_config = ConfigDict(frozen=True)

    amount: int
    unit: Literal["D", "H"]

    @property
    def seconds(self) -> int:
        return self.amount * _UNIT_SECONDS[self.unit]

    def __str__(self) -> str:
        return f"+{self.amount}{self.unit}"


class ProductParams(BaseModel):
    """The parsed handler parameters. Times are Unix seconds; `endtime_relative` excludes `endtime`."""

    model_config = ConfigDict(frozen=True)

    coursename: str
    supervisor: str = DEFAULT_SUPERVISOR
    starttime: int | None = None
    endtime: int | None = None
    endtime_relative: RelativeEnd | None = None
    customersupport: str | None = None
    duration: int | None = None  # days
    renewable: bool = False
    autoenrolsupervisor: bool = True
    requiredroles: tuple[Literal["student", "supervisor"], ...] | None = None

    def takes(self, role: ParticipantRole) -> bool:
        """May the order bring participants of this role (requiredroles)?"""
        return self.requiredroles is None or _ROLE_HELD[role] in self.requiredroles


def parse_product_params(raw: str) -> ProductParams:
    """Parse the URL-encoded parameter string; raise ProductParamError naming the first bad key."""
    params, errors = _read_product_params(raw)
    if errors:
        raise errors[0]
    assert params is not None
    return params


def product_param_errors(raw: str) -> list[ProductParamError]:
    """Every problem of the parameter string, in the order `parse_product_params` meets them; [] when it parses."""
    return _read_product_params(raw)[1]


def _read_product_params(raw: str) -> tuple[ProductParams | None, list[ProductParamError]]:
    errors: list[ProductParamError] = []
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for piece in (raw or "").split("&"):
        if not piece:
            continue
        if "=" not in piece:
            errors.append(ProductParamError(unquote_plus(piece), "expected key=value"))
            continue
        key_raw, value_raw = piece.split("=", 1)
        key = unquote_plus(key_raw).strip()
        if key not in KNOWN_KEYS:
            errors.append(ProductParamError(key, f"unknown key (known keys: {', '.join(KNOWN_KEYS)})"))
        elif key in values:
            if key not in repeated:
                errors.append(ProductParamError(key, "given more than once"))
                repeated.add(key)
        else:
            values[key] = unquote_plus(value_raw)

    def read(key: str, reader: Callable[[str, str], T]) -> T | None:
        """The key's value through `reader`, or None (absent, or wrong: then its error is recorded)."""
        if key not in values:
            return None
        try:
            return reader(key, values[key])
        except ProductParamError as exc:
            errors.append(exc)
            return None

    coursename = None
    if not values.get("coursename", "").strip():
        errors.append(ProductParamError("coursename", "required: the shortname of the course"))
    else:
        coursename = read("coursename", _shortname)
    supervisor = read("supervisor", _role_shortname)
    starttime = read("starttime", _absolute_time)
    end = read("endtime", _end)
    endtime = end if isinstance(end, int) else None
    if starttime is not None and endtime is not None and endtime <= starttime:
        errors.append(ProductParamError("endtime", f"{endtime} is not after starttime {starttime}"))
    customersupport = read("customersupport", _shortname)
    duration = read("duration", _days)
    if duration is not None and "endtime" in values:
        errors.append(ProductParamError("duration", "endtime is given too: give one of them (one would be ignored)"))
    renewable = read("renewable", _flag)
    autoenrol = read("autoenrolsupervisor", _flag)
    roles = read("requiredroles", lambda key, value: _roles(key, value, supervisor or DEFAULT_SUPERVISOR))
    if errors or coursename is None:
        return None, errors
    return (
        ProductParams(
            coursename=coursename,
            supervisor=supervisor or DEFAULT_SUPERVISOR,
            starttime=starttime,
            endtime=endtime,
            endtime_relative=end if isinstance(end, RelativeEnd) else None,
            customersupport=customersupport,
            duration=duration,
            renewable=bool(renewable),
            autoenrolsupervisor=autoenrol is not False,
            requiredroles=roles,
        ),
        [],
    )


def session_dates(params: ProductParams, *, now: int, course_start: int) -> tuple[int, int]:
    """(timestart, timeend) of the enrolments. timeend 0 means no end.

    The start is `starttime` or `now`, moved to the course start when the course starts later.
    A relative end counts from that effective start. An absolute end that falls on or before the
    effective start is refused (ProductParamError on `endtime`). Without an end: `duration` days after the
    start, else one calendar year for a renewable product, else no end.
    """
    start = params.starttime if params.starttime is not None else now
    if course_start and course_start > start:
        start = course_start
    if params.endtime_relative is not None:
        return start, start + params.endtime_relative.seconds
    if params.endtime is None and params.duration is not None:
        return start, start + params.duration * _UNIT_SECONDS["D"]
    if params.endtime is None and params.renewable:
        begins = datetime.fromtimestamp(start, UTC)
        try:
            return start, int(begins.replace(year=begins.year + 1).timestamp())
        except ValueError:  # 29 February: a year later is the 28th
            return start, int(begins.replace(year=begins.year + 1, day=28).timestamp())
    if params.endtime is None:
        return start, 0
    if params.endtime <= start:
        raise ProductParamError(
            "endtime", f"{params.endtime} is not after the session start {start} (course start or starttime)"
        )
    return start, params.endtime


def _shortname(key: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise ProductParamError(key, "must not be empty")
    if len(value) > _SHORTNAME_MAX:
        raise ProductParamError(key, f"longer than {_SHORTNAME_MAX} characters")
    if any(ch in value for ch in "<>") or any(ord(ch) < 32 for ch in value):
        raise ProductParamError(key, "must be plain text (no tags or control characters)")
    return value


def _role_shortname(key: str, value: str) -> str:
    supervisor = value.strip()
    if not _ROLE_SHORTNAME.fullmatch(supervisor):
        raise ProductParamError(key, f"must be a role shortname (letters, digits, _ and -), got {value!r}")
    return supervisor


def _days(key: str, value: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= _MAX_DURATION_DAYS:
        raise ProductParamError(key, f"must be a number of days from 1 to {_MAX_DURATION_DAYS}, got {value!r}")
    return int(text)


def _flag(key: str, value: str) -> bool:
    if value.strip() not in ("0", "1"):
        raise ProductParamError(key, f"must be 0 or 1, got {value!r}")
    return value.strip() == "1"


def _roles(key: str, value: str, supervisor: str) -> tuple[Literal["student", "supervisor"], ...]:
    """`student,supervisor` -> ("student", "supervisor"); the supervisor role may be named by its shortname."""
    names = [name.strip() for name in value.split(",")]
    if not any(names):
        raise ProductParamError(key, "must name at least one role: student, supervisor")
    held: list[Literal["student", "supervisor"]] = []
    for name in filter(None, names):
        if name == "student":
            held.append("student")
        elif name in ("supervisor", supervisor):
            held.append("supervisor")
        else:
            raise ProductParamError(
                key,
                f"{name!r} is not a role of this product: participants hold student (learners) or the supervisor "
                f"role {supervisor!r} (tutors); write student, supervisor or both, comma-separated",
            )
    return tuple(dict.fromkeys(held))


def _end(key: str, value: str) -> int | RelativeEnd:
    match = _RELATIVE.fullmatch(value.rstrip())
    if not match:
        return _absolute_time(key, value, relative_allowed=True)
    amount = int(match.group(1))
    if amount == 0:
        raise ProductParamError(key, "a relative end must be at least +1D or +1H")
    return RelativeEnd(amount=amount, unit=match.group(2).upper())  # type: ignore[arg-type]


def _absolute_time(key: str, value: str, *, relative_allowed: bool = False) -> int:
    text = value.strip()
    hint = "a Unix timestamp or an ISO-8601 date/time" + (", or +<n>D / +<n>H" if relative_allowed else "")
    if not text:
        raise ProductParamError(key, f"must be {hint}, got an empty value")
    if _UNIX.fullmatch(text):
        timestamp = int(text)
    else:
        try:
            if len(text) == 10:
                parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
            else:
                parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ProductParamError(key, f"must be {hint}, got {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        timestamp = int(parsed.timestamp())
    if not 0 < timestamp <= _MAX_TIMESTAMP:
        raise ProductParamError(key, f"{timestamp} is out of range")
    return timestamp
