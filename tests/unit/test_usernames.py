"""Usernames derived from names: what Moodle accepts (lowercase ASCII, [a-z0-9_.@-])."""

from __future__ import annotations

import itertools
import re

import pytest
from seatflow.moodle import username_candidates


def first(firstname: str, lastname: str, n: int = 1) -> list[str]:
    return list(itertools.islice(username_candidates(firstname, lastname), n))


def test_candidates_are_firstname_dot_lastname_then_numbered():
    assert first("Jean", "Dupont", 3) == ["jean.dupont", "jean.dupont1", "jean.dupont2"]


@pytest.mark.parametrize(
    ("firstname", "lastname", "expected"),
    [
        ("José", "García", "jose.garcia"),
        ("Élodie", "Lefèvre", "elodie.lefevre"),
        ("Jürgen", "Groß", "jurgen.gross"),
        ("Æsa", "Œuvre", "aesa.oeuvre"),
        ("Søren", "Łukasz", "soren.lukasz"),
        ("Đorđe", "Ðukić", "dorde.dukic"),
        ("Jean Pierre", "de la Tour", "jean-pierre.de-la-tour"),
        ("Anne", "O'Brien", "anne.obrien"),
        ("Anne", "D’Arc", "anne.darc"),
        ("  Marie-  ", " -Curie ", "marie.curie"),
        ("Li", "王", "li"),
        ("", "", "user"),
        ("!!", "??", "user"),
        ("a..b", "c__d", "a.b.c_d"),
    ],
)
def test_names_are_folded_to_what_moodle_accepts(firstname, lastname, expected):
    assert first(firstname, lastname) == [expected]


def test_candidates_only_hold_characters_moodle_keeps():
    for name in first("Ça  va?", "Ñandú & Co.", 3):
        assert re.fullmatch(r"[a-z0-9_.@-]+", name)


def test_candidates_are_at_most_100_characters_even_with_a_suffix():
    long_name = "x" * 150
    names = first(long_name, long_name, 12)
    assert all(len(n) <= 100 for n in names)
    assert names[11].endswith("11") and len(set(names)) == 12
