"""Product parameter strings and session dates."""

from __future__ import annotations

import pytest
from seatflow.product import ProductParamError, parse_product_params, product_param_errors, session_dates

DAY = 86400


def test_the_sample_product_string_is_parsed_with_a_relative_end() -> None:
    # Given the parameter string of the SPOC M1 product ('+' decodes to a space in URL encoding)
    raw = "coursename=SPOCM1&supervisor=teacher&starttime=1767225600&endtime=+35D&customersupport=SUPPORT"
    # When it is parsed
    params = parse_product_params(raw)
    # Then every key is read and the end is 35 days after the start
    assert params.coursename == "SPOCM1"
    assert params.supervisor == "teacher"
    assert params.starttime == 1767225600
    assert params.endtime is None and str(params.endtime_relative) == "+35D"
    assert params.customersupport == "SUPPORT"


def test_only_coursename_is_needed_and_supervisor_defaults_to_teacher() -> None:
    params = parse_product_params("coursename=SPOC%20M1")
    assert params.coursename == "SPOC M1"
    assert params.supervisor == "teacher"
    assert (params.starttime, params.endtime, params.endtime_relative, params.customersupport) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("endtime", ["%2B12H", "+12H", "+12h"])
def test_a_relative_end_in_hours_is_read_however_the_plus_was_encoded(endtime: str) -> None:
    params = parse_product_params(f"coursename=C&endtime={endtime}")
    assert params.endtime_relative is not None and params.endtime_relative.seconds == 12 * 3600


def test_iso_8601_dates_are_accepted_and_read_as_utc_without_an_offset() -> None:
    params = parse_product_params("coursename=C&starttime=2026-01-01&endtime=2026-02-05T12:00:00%2B01:00")
    assert params.starttime == 1767225600
    assert params.endtime == 1767225600 + 35 * DAY + 11 * 3600


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("supervisor=teacher", "coursename"),
        ("coursename=C&colour=blue", "colour"),
        ("coursename=C&coursename=D", "coursename"),
        ("coursename=C&starttime=tomorrow", "starttime"),
        ("coursename=C&starttime=%2B3D", "starttime"),
        ("coursename=C&endtime=+35W", "endtime"),
        ("coursename=C&endtime=+0D", "endtime"),
        ("coursename=C&supervisor=non editing", "supervisor"),
        ("coursename=C&customersupport=", "customersupport"),
        ("coursename=C&starttime=1767225600&endtime=1767225000", "endtime"),
        ("coursename=C&endtime", "endtime"),
    ],
)
def test_a_bad_parameter_is_refused_naming_its_key(raw: str, key: str) -> None:
    with pytest.raises(ProductParamError) as refused:
        parse_product_params(raw)
    assert refused.value.key == key
    assert str(refused.value).startswith(f"{key}: ")


def test_every_bad_key_is_found_in_one_reading_in_the_order_they_are_met() -> None:
    # Given a string with an unknown key, a repeated key, a bad start and a bad end, and no course
    raw = "colour=blue&starttime=tomorrow&starttime=today&endtime=+35W&size"
    # When its problems are listed
    errors = product_param_errors(raw)
    # Then each bad key is named once, the first being the one parse_product_params raises
    assert [e.key for e in errors] == ["colour", "starttime", "size", "coursename", "starttime", "endtime"]
    with pytest.raises(ProductParamError) as refused:
        parse_product_params(raw)
    assert refused.value.key == "colour"


def test_a_good_string_has_no_problems() -> None:
    assert product_param_errors("coursename=C&endtime=+35D") == []


def test_the_start_defaults_to_now() -> None:
    params = parse_product_params("coursename=C")
    assert session_dates(params, now=1_000_000, course_start=0) == (1_000_000, 0)


def test_a_course_starting_later_moves_the_start_and_the_relative_end_with_it() -> None:
    # Given a 35-day session bought before the course starts
    params = parse_product_params("coursename=C&endtime=+35D")
    # When the dates are computed
    start, end = session_dates(params, now=1_000_000, course_start=2_000_000)
    # Then the course start wins and the end counts from it
    assert (start, end) == (2_000_000, 2_000_000 + 35 * DAY)


def test_an_explicit_start_before_the_course_start_is_clamped_too() -> None:
    params = parse_product_params("coursename=C&starttime=1500000")
    assert session_dates(params, now=1_000_000, course_start=2_000_000)[0] == 2_000_000


def test_an_explicit_start_after_the_course_start_is_kept() -> None:
    params = parse_product_params("coursename=C&starttime=3000000&endtime=4000000")
    assert session_dates(params, now=1_000_000, course_start=2_000_000) == (3_000_000, 4_000_000)


def test_an_absolute_end_before_the_clamped_start_is_refused() -> None:
    params = parse_product_params("coursename=C&endtime=1500000")
    with pytest.raises(ProductParamError) as refused:
        session_dates(params, now=1_000_000, course_start=2_000_000)
    assert refused.value.key == "endtime"
