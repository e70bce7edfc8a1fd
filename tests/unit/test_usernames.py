"""Usernames derived from names: what Moodle accepts (lowercase ASCII, [a-z0-9_.@-])."""

from __future__ import annotations

import itertools
import re

import pytest
from seatflow.moodle import UsernameRequest, allocate_usernames, candidates_to_check, username_candidates
from seatflow.moodle.usernames import username_base


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
        ("Li", "王", "li.wang"),
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


@pytest.mark.parametrize(
    ("firstname", "lastname", "expected"),
    [
        ("Дмитрий", "Иванов", "dmitriy.ivanov"),
        ("王", "小明", "wang.xiaoming"),
        ("Γιώργος", "Παπαδόπουλος", "giorgos.papadopoylos"),
        ("민준", "김", "minjun.gim"),
        ("अर्जुन", "शर्मा", "arjun.srma"),
        ("محمد", "علي", "mhmd.ly"),
    ],
)
def test_names_in_any_script_are_transliterated(firstname, lastname, expected):
    assert first(firstname, lastname) == [expected]


def test_a_name_that_leaves_nothing_falls_back_to_the_email_local_part():
    assert username_base("!!", "??", "J.Doe+work@acme.example") == "j.doe"
    assert username_base("!!", "??", "") == "user"


def test_one_check_covers_every_namesake_of_a_batch_and_suffixes_are_shared_out_in_order():
    # Given three Jean Duponts in one batch, and jean.dupont and jean.dupont2 taken in Moodle
    people = [UsernameRequest(f"k{i}", "Jean", "Dupont") for i in range(3)]
    checked = candidates_to_check(people)
    # When the usernames are allocated from that one check
    allocated, left = allocate_usernames(people, checked, taken={"jean.dupont", "jean.dupont2"})
    # Then each gets a distinct free one, in order, and nobody is left for another check
    assert allocated == {"k0": "jean.dupont1", "k1": "jean.dupont3", "k2": "jean.dupont4"}
    assert left == [] and len(checked) >= 3 + 2


def test_a_retry_asks_again_for_the_username_it_asked_for_before():
    person = UsernameRequest("k0", "Jean", "Dupont", preferred="jean.dupont7")
    allocated, _ = allocate_usernames([person], candidates_to_check([person]), taken=set())
    assert allocated == {"k0": "jean.dupont7"}
