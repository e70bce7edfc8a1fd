"""Order bodies parsed within bounds: every hostile body is refused with a JsonBodyError naming the problem."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from seatflow.json_body import MAX_BODY_BYTES, MAX_DEPTH, JsonBodyError, parse_order_json
from seatflow.models.order import MAX_PARTICIPANTS, OrderBody

SAMPLE_BYTES = (Path(__file__).resolve().parents[2] / "events" / "order_spocm1.json").read_bytes()


def refusal(raw: bytes) -> JsonBodyError:
    with pytest.raises(JsonBodyError) as refused:
        parse_order_json(raw)
    return refused.value


def test_the_sample_order_parses_as_json_loads_does() -> None:
    assert parse_order_json(SAMPLE_BYTES) == json.loads(SAMPLE_BYTES)


def test_the_largest_order_the_model_accepts_fits_under_the_size_bound() -> None:
    # Given 5,000 participants with every field at its maximum length
    person = {
        "firstname": "F" * 100,
        "lastname": "L" * 100,
        "email": "e" * 60 + "@" + "d" * 35 + ".com",
        "city": "C" * 120,
        "institution": "I" * 255,
        "phone": "+33 1 23 45 67 89 0",
    }
    body = json.loads(SAMPLE_BYTES)
    body["participants"] = {
        "learners": [dict(person, email=f"{i:05d}" + person["email"][5:]) for i in range(MAX_PARTICIPANTS)],
        "tutors": [],
    }
    body["seats"] = MAX_PARTICIPANTS
    raw = json.dumps(body, indent=2).encode()
    # When it is parsed, Then it is under the bound, parsed, and a valid order
    assert len(raw) < MAX_BODY_BYTES
    assert OrderBody.model_validate(parse_order_json(raw)).seats == MAX_PARTICIPANTS


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b" " * (MAX_BODY_BYTES + 1), f"at most {MAX_BODY_BYTES:,}"),
        (b"", "empty"),
        (b"  \n", "empty"),
        (b'{"order_id": "caf\xe9"}', "not UTF-8: byte 0xe9 at position 17"),
        (b"[" * 1000 + b"]" * 1000, f"more than {MAX_DEPTH} levels deep"),
        (b"[" * 5000, f"more than {MAX_DEPTH} levels deep"),
        (b'{"a": ' + b'{"b": [' * 20 + b"1" + b"]}" * 20 + b"}", f"more than {MAX_DEPTH} levels deep"),
        (b'{"seats": ' + b"9" * 4301 + b"}", "4301 digits: integers have at most 20"),
        (b'{"seats": -' + b"1" * 21 + b"}", "21 digits"),
        (b'{"seats": NaN}', "NaN is not a JSON value"),
        (b'{"seats": -Infinity}', "-Infinity is not a JSON value"),
        (b'{"seats": 1e999}', "too large"),
        (b'{"order_id": ', "not valid JSON: Expecting value (line 1, column 14)"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
    ],
)
def test_a_hostile_body_is_refused_naming_the_problem(raw: bytes, says: str) -> None:
    assert says in refusal(raw).message


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    raw = json.dumps({"firstname": "[" * 100, "lastname": '\\"{' * 50}).encode()
    assert parse_order_json(raw)["firstname"] == "[" * 100


def test_nesting_up_to_the_bound_is_accepted() -> None:
    assert parse_order_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


def test_a_lone_surrogate_is_refused_at_the_field_that_holds_it() -> None:
    # Given a learner's first name ending in an unpaired \ud800 escape
    body = json.loads(SAMPLE_BYTES)
    raw = json.dumps(body).replace('"Alice"', '"Alice\\ud800"').encode()
    # When it is parsed, Then the refusal names the field
    refused = refusal(raw)
    assert refused.field == "participants.learners[0].firstname"
    assert "lone surrogate" in refused.message


def test_a_lone_surrogate_in_a_key_is_refused() -> None:
    assert refusal(b'{"order\\udc00": 1}').field == "body"


def test_an_escaped_surrogate_pair_is_one_character_and_accepted() -> None:
    assert parse_order_json(b'{"firstname": "\\ud83d\\ude00"}') == {"firstname": "\U0001f600"}


def test_random_mutations_of_an_order_raise_nothing_but_json_body_error() -> None:
    # Given 3,000 bodies made by flipping, inserting and deleting bytes of the sample order
    rng = random.Random(13)
    hostile = [b"[", b"]", b"{", b"}", b'"', b"\\", b"\\ud800", b"\xff", b"9" * 30, b"NaN", b"\x00", b"\xed\xa0\x80"]
    for _ in range(3000):
        raw = bytearray(SAMPLE_BYTES)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(raw))
            choice = rng.random()
            if choice < 0.4:
                raw[at : at + 1] = rng.choice(hostile)
            elif choice < 0.7:
                raw[at] = rng.randrange(256)
            else:
                del raw[at : at + rng.randint(1, 20)]
        # When it is parsed, Then it is a value or a JsonBodyError, never another exception
        try:
            value: Any = parse_order_json(bytes(raw))
        except JsonBodyError as refused:
            assert refused.message
        else:
            json.dumps(value).encode()  # whatever is accepted can be encoded again
