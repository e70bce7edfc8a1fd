"""Moodle's exception answers: the envelopes a real Moodle 4.5 sends, always with HTTP 200, for each refusal.

Messages are verbatim from the recordings (../shared/moodle-ws), with debugging off as in production.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class Envelope(TypedDict):
    """``{"exception", "errorcode", "message"}`` in that key order; a PHP ``Error`` has no errorcode."""

    exception: str
    errorcode: NotRequired[str]
    message: str


class WsError(Exception):
    """An error envelope Moodle would answer (HTTP 200)."""

    def __init__(self, exception: str, errorcode: str | None, message: str) -> None:
        super().__init__(message)
        self.envelope: Envelope
        if errorcode is None:
            self.envelope = {"exception": exception, "message": message}
        else:
            self.envelope = {"exception": exception, "errorcode": errorcode, "message": message}


def moodle_exception(errorcode: str, message: str) -> WsError:
    return WsError("core\\exception\\moodle_exception", errorcode, message)


def invalid_parameter() -> WsError:
    """With debug off Moodle says no more, whatever the parameter or the rule it broke."""
    return WsError(
        "core\\exception\\invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected"
    )


def coding_error(detail: str) -> WsError:
    return WsError(
        "core\\exception\\coding_exception",
        "codingerror",
        f"Coding error detected, it must be fixed by a programmer: {detail}",
    )


def php_error(message: str) -> WsError:
    """A PHP ``Error`` (not a Moodle exception): no errorcode."""
    return WsError("Error", None, message)


def missing_record(table: str) -> WsError:
    return WsError(
        "dml_missing_record_exception", "invalidrecord", f"Can't find data record in database table {table}."
    )


def invalid_user() -> WsError:
    return WsError("dml_missing_record_exception", "invaliduser", "Invalid user")


def course_context_error(course_id: object) -> WsError:
    return moodle_exception(
        "errorcoursecontextnotvalid",
        f"You cannot execute functions in the course context (course id:{course_id}). "
        "The context error message was: Invalid parameter value detected",
    )


def db_write_error() -> WsError:
    return WsError("dml_write_exception", "dmlwriteexception", "Error writing to database")


# --- the REST server's own refusals, before any function runs ----------------------------------------


def site_maintenance() -> WsError:
    return moodle_exception("sitemaintenance", "The site is undergoing maintenance and is currently not available")


def invalid_token() -> WsError:
    return moodle_exception("invalidtoken", "Invalid token - token not found")


def unknown_function() -> WsError:
    return missing_record("external_functions")


def access_exception() -> WsError:
    return WsError("webservice_access_exception", "accessexception", "Access control exception")
