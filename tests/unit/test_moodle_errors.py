"""Moodle's error envelopes become the right error classes; PHP-style encoding; role mapping."""

from __future__ import annotations

import pickle

import pytest
from seatflow.config import ConfigurationError
from seatflow.moodle import (
    AccessDeniedError,
    CourseContextError,
    GroupIdnumberTakenError,
    InvalidParameterError,
    InvalidTokenError,
    MoodlePermanentError,
    MoodleTransientError,
    NoManualEnrolmentError,
    RecordNotFoundError,
    RoleAssignDeniedError,
    RoleMap,
    encode_params,
)
from seatflow.moodle.errors import error_from_envelope


@pytest.mark.parametrize(
    ("errorcode", "cls"),
    [
        ("invalidtoken", InvalidTokenError),
        ("accessexception", AccessDeniedError),
        ("invalidparameter", InvalidParameterError),
        ("wsnoinstance", NoManualEnrolmentError),
        ("wsusercannotassign", RoleAssignDeniedError),
        ("invalidrecord", RecordNotFoundError),
        ("invaliduser", RecordNotFoundError),
        ("errorcoursecontextnotvalid", CourseContextError),
        ("idnumbertaken", GroupIdnumberTakenError),
        ("codingerror", MoodlePermanentError),
    ],
)
def test_errorcodes_map_to_permanent_error_classes(errorcode, cls):
    error = error_from_envelope({"exception": "x", "errorcode": errorcode, "message": "m"}, "f")
    assert type(error) is cls and isinstance(error, MoodlePermanentError)


def test_maintenance_mode_is_the_transient_error_itself():
    error = error_from_envelope({"exception": "moodle_exception", "errorcode": "sitemaintenance", "message": "m"}, "f")
    assert type(error) is MoodleTransientError


def test_error_reads_as_one_line_and_converts_to_a_dict():
    error = error_from_envelope(
        {
            "exception": "moodle_exception",
            "errorcode": "wsnoinstance",
            "message": "Manual enrolment plugin instance doesn't exist",
        },
        "enrol_manual_enrol_users",
    )
    assert str(error) == "enrol_manual_enrol_users: [wsnoinstance] Manual enrolment plugin instance doesn't exist"
    assert error.to_dict() == {
        "exception": "moodle_exception",
        "errorcode": "wsnoinstance",
        "message": "Manual enrolment plugin instance doesn't exist",
        "wsfunction": "enrol_manual_enrol_users",
    }


def test_errors_survive_pickling():
    error = MoodleTransientError("HTTP 503", reason="http503", wsfunction="f")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.reason, str(copy)) == (MoodleTransientError, "http503", str(error))


def test_params_are_encoded_php_style():
    encoded = encode_params({"users": [{"username": "a", "createpassword": True, "city": None}], "field": "id"})
    assert encoded == [("users[0][username]", "a"), ("users[0][createpassword]", "1"), ("field", "id")]


def test_unmapped_role_names_the_setting_to_fix():
    roles = RoleMap({"student": 5})
    assert roles.id_for("student") == 5
    with pytest.raises(ConfigurationError, match="customer.*MOODLE_ROLE_IDS"):
        roles.id_for("customer")


def test_role_map_from_settings_merges_moodle_role_ids(monkeypatch):
    from seatflow.config import get_settings

    monkeypatch.setenv("MOODLE_ROLE_IDS", '{"customer": 9}')
    get_settings.cache_clear()
    try:
        roles = RoleMap.from_settings()
        assert (roles.id_for("customer"), roles.id_for("teacher")) == (9, 4)
    finally:
        get_settings.cache_clear()
