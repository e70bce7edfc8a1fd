"""Moodle web-service errors, split into transient (retry later) and permanent (a decision is needed).

Moodle answers errors with HTTP 200 and a JSON envelope ``{exception, errorcode, message}``; see
``../shared/moodle-ws``. Step Functions retries on the class name ``MoodleTransientError``: keep that
name and do not subclass it.
"""

from __future__ import annotations

from typing import Any


class MoodleError(Exception):
    """An error answered by (or on the way to) Moodle. Never carries the token."""

    def __init__(
        self,
        message: str,
        *,
        wsfunction: str | None = None,
        errorcode: str | None = None,
        exception: str | None = None,
    ) -> None:
        self.message = message
        self.wsfunction = wsfunction
        self.errorcode = errorcode
        self.exception = exception
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.wsfunction or '?'}: [{self.errorcode or self.exception or 'error'}] {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(wsfunction={self.wsfunction!r}, errorcode={self.errorcode!r}, "
            f"message={self.message!r})"
        )

    def __reduce__(self):  # keep pickling (e.g. across threads/processes) working with keyword attributes
        return (_rebuild, (type(self), self.to_dict(), getattr(self, "reason", None)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "exception": self.exception,
            "errorcode": self.errorcode,
            "message": self.message,
            "wsfunction": self.wsfunction,
        }


def _rebuild(cls: type[MoodleError], data: dict[str, Any], reason: str | None) -> MoodleError:
    if issubclass(cls, MoodleTransientError):
        return cls(
            data["message"],
            reason=reason or "unknown",
            wsfunction=data["wsfunction"],
            errorcode=data["errorcode"],
            exception=data["exception"],
        )
    return cls(
        data["message"],
        wsfunction=data["wsfunction"],
        errorcode=data["errorcode"],
        exception=data["exception"],
    )


class MoodleTransientError(MoodleError):
    """Worth retrying: connection error, timeout, HTTP 5xx/429, an HTML page, maintenance mode."""

    def __init__(self, message: str, *, reason: str, **kwargs: Any) -> None:
        self.reason = reason
        super().__init__(message, **kwargs)

    def __str__(self) -> str:
        return f"{self.wsfunction or '?'}: transient ({self.reason}) [{self.errorcode or '-'}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reason": self.reason}


class MoodlePermanentError(MoodleError):
    """Moodle refused the call; retrying the same call will not help."""


class InvalidTokenError(MoodlePermanentError):
    """errorcode ``invalidtoken``: the token is unknown or expired."""


class AccessDeniedError(MoodlePermanentError):
    """errorcode ``accessexception``: the function is not in the token's service, or no capability."""


class InvalidParameterError(MoodlePermanentError):
    """errorcode ``invalidparameter``: says nothing more when Moodle debugging is off."""


class NoManualEnrolmentError(MoodlePermanentError):
    """errorcode ``wsnoinstance``: the course has no enabled manual enrolment instance."""


class RoleAssignDeniedError(MoodlePermanentError):
    """errorcode ``wsusercannotassign``: unknown role, or a role not assignable in course context."""


class RecordNotFoundError(MoodlePermanentError):
    """errorcode ``invalidrecord`` / ``invaliduser``: a course, group, user... does not exist."""


class CourseContextError(MoodlePermanentError):
    """errorcode ``errorcoursecontextnotvalid``: typically a course id that does not exist."""


class GroupIdnumberTakenError(MoodlePermanentError):
    """errorcode ``idnumbertaken``: a group of the course already uses that idnumber."""


class DatabaseWriteError(MoodlePermanentError):
    """errorcode ``dmlwriteexception``: on a create, possibly a lost race on the unique username index
    (two creates passed Moodle's "username exists" check at once; see the race line of cases-batch.jsonl)."""


PERMANENT_BY_ERRORCODE: dict[str, type[MoodlePermanentError]] = {
    "invalidtoken": InvalidTokenError,
    "accessexception": AccessDeniedError,
    "invalidparameter": InvalidParameterError,
    "wsnoinstance": NoManualEnrolmentError,
    "wsusercannotassign": RoleAssignDeniedError,
    "invalidrecord": RecordNotFoundError,
    "invaliduser": RecordNotFoundError,
    "errorcoursecontextnotvalid": CourseContextError,
    "idnumbertaken": GroupIdnumberTakenError,
    "dmlwriteexception": DatabaseWriteError,
}

TRANSIENT_ERRORCODES = frozenset({"sitemaintenance"})


def error_from_envelope(envelope: dict[str, Any], wsfunction: str | None) -> MoodleError:
    """Turn Moodle's ``{exception, errorcode, message}`` into the matching error class."""
    errorcode = envelope.get("errorcode")
    exception = envelope.get("exception")
    message = str(envelope.get("message") or "")
    if errorcode is not None:
        errorcode = str(errorcode)
    if errorcode in TRANSIENT_ERRORCODES:
        return MoodleTransientError(
            message, reason=errorcode, wsfunction=wsfunction, errorcode=errorcode, exception=exception
        )
    cls = PERMANENT_BY_ERRORCODE.get(errorcode or "", MoodlePermanentError)
    return cls(message, wsfunction=wsfunction, errorcode=errorcode, exception=exception)
