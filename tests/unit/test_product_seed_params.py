"""The seed handler's other product parameters: duration, renewable, autoenrolsupervisor, requiredroles."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from seatflow.models.order import OrderBody, field_path
from seatflow.product import ProductParamError, parse_product_params, session_dates

DAY = 86400
START = 1767225600  # 2026-01-01T00:00:00Z
SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events" / "order_spocm1.json").read_text())


def dates(raw: str) -> tuple[int, int]:
    return session_dates(parse_product_params(raw), now=START, course_start=0)


def test_without_these_keys_a_product_behaves_as_before() -> None:
    params = parse_product_params("coursename=C")
    assert (params.duration, params.renewable, params.autoenrolsupervisor, params.requiredroles) == (
        None,
        False,
        True,
        None,
    )
    assert params.takes("learner") and params.takes("tutor")
    assert dates("coursename=C") == (START, 0)


def test_a_duration_ends_access_that_many_days_after_the_effective_start() -> None:
    # Given a course that starts later than the product's starttime
    params = parse_product_params(f"coursename=C&starttime={START}&duration=30")
    # Then the 30 days count from the course start
    assert session_dates(params, now=START, course_start=START + 7 * DAY) == (START + 7 * DAY, START + 37 * DAY)


def test_a_renewable_product_without_an_end_gives_one_calendar_year() -> None:
    assert dates("coursename=C&renewable=1") == (START, int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()))
    leap = int(datetime(2028, 2, 29, 9, tzinfo=UTC).timestamp())
    renewable = parse_product_params("coursename=C&renewable=1")
    assert session_dates(renewable, now=leap, course_start=0)[1] == int(
        datetime(2029, 2, 28, 9, tzinfo=UTC).timestamp()
    )


def test_an_end_or_a_duration_wins_over_renewable() -> None:
    assert dates("coursename=C&renewable=1&duration=10") == (START, START + 10 * DAY)
    assert dates("coursename=C&renewable=1&endtime=+2D") == (START, START + 2 * DAY)
    assert dates("coursename=C&renewable=0") == (START, 0)


def test_autoenrolsupervisor_0_keeps_the_operator_out_of_the_course() -> None:
    assert parse_product_params("coursename=C&autoenrolsupervisor=0").autoenrolsupervisor is False
    assert parse_product_params("coursename=C&autoenrolsupervisor=1").autoenrolsupervisor is True


@pytest.mark.parametrize(
    ("roles", "learners", "tutors"),
    [
        ("student", True, False),
        ("supervisor", False, True),
        ("student,supervisor", True, True),
        ("student, teacher", True, True),  # the supervisor role by its shortname
        ("teacher,teacher", False, True),
    ],
)
def test_requiredroles_say_which_participants_the_product_takes(roles: str, learners: bool, tutors: bool) -> None:
    params = parse_product_params(f"coursename=C&supervisor=teacher&requiredroles={roles}")
    assert (params.takes("learner"), params.takes("tutor")) == (learners, tutors)


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ("coursename=C&duration=0", "duration", "number of days from 1"),
        ("coursename=C&duration=ten", "duration", "number of days"),
        ("coursename=C&duration=-3", "duration", "number of days"),
        ("coursename=C&duration=10&endtime=+3D", "duration", "endtime is given too"),
        ("coursename=C&renewable=yes", "renewable", "must be 0 or 1"),
        ("coursename=C&autoenrolsupervisor=2", "autoenrolsupervisor", "must be 0 or 1"),
        ("coursename=C&requiredroles=", "requiredroles", "at least one role"),
        ("coursename=C&requiredroles=student,manager", "requiredroles", "'manager' is not a role of this product"),
        ("coursename=C&supervisor=editingteacher&requiredroles=teacher", "requiredroles", "'teacher' is not"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(raw: str, key: str, words: str) -> None:
    with pytest.raises(ProductParamError) as refused:
        parse_product_params(raw)
    assert refused.value.key == key
    assert words in refused.value.message


def order_with(params: str) -> dict[str, Any]:
    body = copy.deepcopy(SAMPLE)
    body["product"]["params"] = params
    return body


def problems(body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as refused:
        OrderBody.model_validate(body)
    return [(field_path(e["loc"]), e["msg"]) for e in refused.value.errors()]


def test_tutors_for_a_product_that_takes_none_are_one_clear_problem() -> None:
    # Given the sample order (10 learners, 1 tutor) for a product whose participants may only be students
    body = order_with("coursename=SPOCM1&requiredroles=student")
    # Then the order is refused once, at participants.tutors, saying why
    [(field, message)] = problems(body)
    assert field == "participants.tutors"
    assert "takes no tutors" in message and "requiredroles (student)" in message and "remove the 1 tutor(s)" in message


def test_a_role_rule_and_a_bad_product_key_are_not_reported_twice() -> None:
    # Given a bad duration next to requiredroles: the parameters do not parse, so only the bad key is said
    body = order_with("coursename=SPOCM1&requiredroles=student&duration=x")
    found = problems(body)
    assert [field for field, _ in found] == ["product.params"]
    assert found[0][1].startswith("duration: ")
