"""The order body: field rules (pydantic) and the rules across fields."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from seatflow.models.order import MAX_PARTICIPANTS, OrderBody, order_rule_problems

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events" / "order_spocm1.json").read_text())


def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)


def error_locs(body: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as refused:
        OrderBody.model_validate(body)
    return {tuple(e["loc"]): e["msg"] for e in refused.value.errors()}


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
    problems = order_rule_problems(OrderBody.model_validate(body))
    assert [p.field for p in problems] == ["seats"]
    assert "1 more participant(s) than seats" in problems[0].message


def test_more_seats_than_participants_is_refused_saying_which_side_is_larger() -> None:
    body = sample()
    body["seats"] = 13
    problems = order_rule_problems(OrderBody.model_validate(body))
    assert "2 more seat(s) than participants" in problems[0].message


def test_the_same_email_twice_is_refused_naming_both_positions() -> None:
    # Given a tutor using a learner's email in another case and with spaces
    body = sample()
    body["participants"]["tutors"][0]["email"] = " ALICE@Example.com "
    # When the rules are checked
    problems = order_rule_problems(OrderBody.model_validate(body))
    # Then the second position is refused and the first one named
    assert [p.field for p in problems] == ["participants.tutors[0].email"]
    assert "participants.learners[0].email" in problems[0].message


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
    problems = order_rule_problems(OrderBody.model_validate(body))
    assert problems[0].field == "participants"


def test_the_body_hash_ignores_key_order_and_email_padding() -> None:
    body = sample()
    padded = sample()
    padded["operator"]["email"] = "  " + padded["operator"]["email"]
    reordered = dict(reversed(list(padded.items())))
    assert OrderBody.model_validate(body).body_sha256() == OrderBody.model_validate(reordered).body_sha256()
