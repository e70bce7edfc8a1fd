"""The order body: field rules (pydantic) and the rules across fields, all found in one validation round."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from seatflow.models.order import MAX_PARTICIPANTS, OrderBody, Product, field_path, order_rule_problems

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events" / "order_spocm1.json").read_text())


def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)


def error_locs(body: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as refused:
        OrderBody.model_validate(body)
    return {tuple(e["loc"]): e["msg"] for e in refused.value.errors()}


def problems(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, message) of every problem of the body, as the shop reads them."""
    with pytest.raises(ValidationError) as refused:
        OrderBody.model_validate(body)
    return [(field_path(e["loc"]), e["msg"]) for e in refused.value.errors()]


def person(i: int) -> dict[str, str]:
    return {"firstname": "P", "lastname": f"N{i}", "email": f"p{i}@example.com"}


def test_the_sample_order_is_valid_and_breaks_no_rule() -> None:
    order = OrderBody.model_validate(sample())
    assert order_rule_problems(order) == []
    assert len(order.participants.learners) == 10 and len(order.participants.tutors) == 1


def test_emails_are_trimmed_and_kept_as_given_but_compared_casefolded() -> None:
    body = sample()
    body["participants"]["learners"][6]["email"] = "  Chloe.Muller@Acme-Training.example "
    order = OrderBody.model_validate(body)
    chloe = order.participants.learners[6]
    assert chloe.email == "Chloe.Muller@Acme-Training.example"
    assert chloe.email_norm == "chloe.muller@acme-training.example"


def test_participant_keys_follow_body_positions_learners_then_tutors() -> None:
    keys = [key for key, *_ in OrderBody.model_validate(sample()).participants_with_keys()]
    assert keys[0] == "learner-0001" and keys[9] == "learner-0010" and keys[10] == "tutor-0001"


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda b: b.update(order_id="SHOP 2026/1"), ("order_id",)),
        (lambda b: b.update(order_id="x" * 65), ("order_id",)),
        (lambda b: b.update(seats="11"), ("seats",)),
        (lambda b: b.update(seats=0), ("seats",)),
        (lambda b: b["operator"].update(email="claire.bernard"), ("operator", "email")),
        (
            lambda b: b["participants"]["learners"][3].update(email="a@b"),
            ("participants", "learners", 3, "email"),
        ),
        (
            lambda b: b["participants"]["learners"][2].update(firstname="<b>Zoé</b>"),
            ("participants", "learners", 2, "firstname"),
        ),
        (
            lambda b: b["participants"]["learners"][2].update(lastname="x" * 101),
            ("participants", "learners", 2, "lastname"),
        ),
        (
            lambda b: b["participants"]["learners"][2].update(firstname="   "),
            ("participants", "learners", 2, "firstname"),
        ),
        (
            lambda b: b["participants"]["tutors"][0].update(city="x" * 121),
            ("participants", "tutors", 0, "city"),
        ),
        (
            lambda b: b["participants"]["tutors"][0].update(institution="x" * 256),
            ("participants", "tutors", 0, "institution"),
        ),
        (
            lambda b: b["participants"]["tutors"][0].update(phone="call me"),
            ("participants", "tutors", 0, "phone"),
        ),
        (
            lambda b: b["participants"]["tutors"][0].update(nickname="Léna"),
            ("participants", "tutors", 0, "nickname"),
        ),
        (lambda b: b["product"].update(params="coursename=SPOCM1&endtime=+35W"), ("product", "params")),
        (lambda b: b.pop("operator"), ("operator",)),
    ],
)
def test_a_bad_field_is_reported_at_its_path(change: Any, loc: tuple[Any, ...]) -> None:
    body = sample()
    change(body)
    assert loc in error_locs(body)


def test_a_bad_product_parameter_message_names_the_key() -> None:
    body = sample()
    body["product"]["params"] = "coursename=SPOCM1&colour=blue"
    assert "colour" in error_locs(body)[("product", "params")]


def test_more_participants_than_seats_is_refused_saying_which_side_is_larger() -> None:
    body = sample()
    body["seats"] = 10
    [(field, message)] = problems(body)
    assert field == "seats"
    assert message.startswith("seats (10) is less than learners + tutors (11): 1 more participant(s) than seats")


def test_more_seats_than_participants_is_refused_saying_which_side_is_larger() -> None:
    body = sample()
    body["seats"] = 13
    [(field, message)] = problems(body)
    assert message == "seats (13) is more than learners + tutors (11): 2 more seat(s) than participants"


def test_the_same_email_twice_is_refused_naming_both_positions() -> None:
    # Given a tutor using a learner's email in another case and with spaces
    body = sample()
    body["participants"]["tutors"][0]["email"] = " ALICE@Example.com "
    # When the order is validated
    [(field, message)] = problems(body)
    # Then the second position is refused and the first one named
    assert field == "participants.tutors[0].email"
    assert "participants.learners[0].email" in message


def test_the_operator_may_also_be_a_participant() -> None:
    body = sample()
    body["participants"]["tutors"][0]["email"] = body["operator"]["email"].upper()
    assert order_rule_problems(OrderBody.model_validate(body)) == []


def test_more_than_the_participant_limit_is_refused() -> None:
    body = sample()
    body["participants"] = {
        "learners": [person(i) for i in range(MAX_PARTICIPANTS)],
        "tutors": [person(MAX_PARTICIPANTS)],
    }
    body["seats"] = MAX_PARTICIPANTS
    assert ("participants", f"{MAX_PARTICIPANTS + 1} participants: at most {MAX_PARTICIPANTS} per order") in problems(
        body
    )


def test_the_body_hash_ignores_key_order_and_email_padding() -> None:
    body = sample()
    padded = sample()
    padded["operator"]["email"] = "  " + padded["operator"]["email"]
    reordered = dict(reversed(list(padded.items())))
    assert OrderBody.model_validate(body).body_sha256() == OrderBody.model_validate(reordered).body_sha256()


# ------------------------------------------------------------------------------------ one round, plain words


def test_field_errors_rules_across_fields_and_every_bad_product_key_come_in_one_round() -> None:
    # Given an order with a bad email, an empty name, two unknown product keys and one seat too few
    body = sample()
    body["participants"]["learners"][3]["email"] = "francois@@example"
    body["participants"]["learners"][5]["firstname"] = " "
    body["product"]["params"] = "coursename=SPOCM1&colour=blue&size=XL"
    body["seats"] = 10
    # When it is validated once
    found = problems(body)
    # Then every problem is there, each at its field
    fields = [field for field, _ in found]
    assert sorted(fields) == sorted(
        [
            "participants.learners[3].email",
            "participants.learners[5].firstname",
            "product.params",
            "product.params",
            "seats",
        ]
    )
    assert ("participants.learners[5].firstname", "must not be empty") in found
    assert {m.split(":")[0] for f, m in found if f == "product.params"} == {"colour", "size"}


def test_the_rules_skip_what_is_itself_wrong() -> None:
    # Given seats given as text and two learners sharing an invalid email
    body = sample()
    body["seats"] = "11"
    body["participants"]["learners"][1]["email"] = "not-an-email"
    body["participants"]["learners"][2]["email"] = "not-an-email"
    # When it is validated, Then only the field errors are reported, not a seats rule or a duplicate
    found = problems(body)
    assert ("seats", "must be a whole number, not text") in found
    assert [f for f, _ in found].count("seats") == 1
    assert sorted(f for f, _ in found if f.endswith("email")) == [
        "participants.learners[1].email",
        "participants.learners[2].email",
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda b: b["operator"].update(firstname=""), "operator.firstname", "must not be empty"),
        (lambda b: b["operator"].pop("lastname"), "operator.lastname", "is required"),
        (lambda b: b["operator"].update(nickname="O"), "operator.nickname", "is not a known field"),
        (lambda b: b["operator"].update(lastname="x" * 101), "operator.lastname", "must have at most 100 characters"),
        (lambda b: b["operator"].update(email="ab"), "operator.email", "must have at least 3 characters"),
        (lambda b: b.update(seats=0), "seats", "must be at least 1"),
        (lambda b: b.update(seats=11.0), "seats", "must be a whole number, not a decimal number"),
        (lambda b: b.update(order_id=7), "order_id", "must be text, not a whole number"),
        (
            lambda b: b.update(order_id="SHOP 1"),
            "order_id",
            "must be 1 to 64 characters among letters, digits, '.', '_' and '-'",
        ),
        (lambda b: b.update(operator="Olivia"), "operator", "must be a JSON object"),
        (lambda b: b["participants"].update(learners={}), "participants.learners", "must be a list"),
        (lambda b: b["product"].update(code=""), "product.code", "must not be empty"),
    ],
)
def test_each_problem_is_said_in_plain_words(change: Any, field: str, message: str) -> None:
    body = sample()
    change(body)
    assert (field, message) in problems(body)


def test_a_product_alone_reports_its_field_and_every_bad_key_in_plain_words() -> None:
    with pytest.raises(ValidationError) as refused:
        Product.model_validate({"code": "", "params": "colour=blue"})
    found = [(field_path(e["loc"]), e["msg"]) for e in refused.value.errors()]
    assert ("code", "must not be empty") in found
    assert [m.split(":")[0] for f, m in found if f == "params"] == ["colour", "coursename"]


def test_a_body_that_is_not_an_object_is_reported_at_body() -> None:
    with pytest.raises(ValidationError) as refused:
        OrderBody.model_validate([1, 2])
    assert [(field_path(e["loc"]), e["msg"]) for e in refused.value.errors()] == [("body", "must be a JSON object")]


def test_a_valid_order_breaks_no_rule_when_checked_again() -> None:
    assert order_rule_problems(OrderBody.model_validate(sample())) == []


# ------------------------------------------------------------------------------- emails as Moodle checks them


@pytest.mark.parametrize(
    "email",
    [
        ".lead@x.com",
        "trail.@x.com",
        "two..dots@x.com",
        "no-at.example.com",
        "@x.com",
        "a@localhost",
        "a@b.123",
        "a@-b.com",
        "a@b-.com",
        "a@b..com",
        "a b@x.com",
        "é@x.com",
        "a@exämple.com",
        '"quoted"@x.com',
        "a@[192.0.2.1]",
        "a<b>@x.com",
        "a@b@x.com",
        "l" * 65 + "@x.com",
        "a@" + "d" * 64 + ".com",
    ],
)
def test_an_email_moodle_refuses_is_refused(email: str) -> None:
    body = sample()
    body["operator"]["email"] = email
    assert "operator.email" in [field for field, _ in problems(body)]


@pytest.mark.parametrize(
    "email",
    [
        "o'brien@x.com",
        "first.last+tag@sub.example.co.uk",
        "A.B@EXAMPLE.COM",
        "a--b@a--b.example",
        "{x}|~#$%&*/=?^_`@x.io",
        "1@x.y2",
        "x@xn--bcher-kva.example",
        "l" * 64 + "@x.com",
    ],
)
def test_an_email_moodle_accepts_is_accepted(email: str) -> None:
    body = sample()
    body["operator"]["email"] = email
    assert OrderBody.model_validate(body).operator.email == email


def test_a_leading_or_trailing_dot_is_named_as_the_problem() -> None:
    body = sample()
    body["operator"]["email"] = "trail.@x.com"
    [(_, message)] = problems(body)
    assert "may not start or end with a dot" in message


@pytest.mark.parametrize("crafted", ["a" * 49 + "@" + "a-" * 25 + "!", "a@" + "a." * 48 + "-", "a." * 49 + "@"])
def test_the_email_check_takes_no_time_on_crafted_addresses(crafted: str) -> None:
    # Given 100-character addresses made to make a backtracking pattern explode
    body = sample()
    body["operator"]["email"] = crafted
    # When they are checked, Then they are refused at once
    started = time.perf_counter()
    assert "operator.email" in [field for field, _ in problems(body)]
    assert time.perf_counter() - started < 1
