"""Seatflow-Signature: sign and verify."""

from __future__ import annotations

from typing import Any

import pytest
from seatflow import signature

SECRET = "s3cret"
BODY = b'{"order_id":"SHOP-1"}'
NOW = 1_767_225_600


def test_a_body_signed_with_the_secret_is_verified() -> None:
    header = signature.sign(SECRET, NOW, BODY)
    assert signature.verify(header, BODY, SECRET, now=NOW + 10) == NOW


def test_the_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature.sign(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_missing_header_is_refused(header: str | None) -> None:
    with pytest.raises(signature.SignatureError, match="missing"):
        signature.verify(header, BODY, SECRET, now=NOW)


def test_a_signature_made_with_another_secret_is_refused() -> None:
    header = signature.sign("not-the-secret", NOW, BODY)
    with pytest.raises(signature.SignatureError, match="no v1= signature matches"):
        signature.verify(header, BODY, SECRET, now=NOW)


def test_a_changed_body_no_longer_matches() -> None:
    header = signature.sign(SECRET, NOW, BODY)
    with pytest.raises(signature.SignatureError):
        signature.verify(header, BODY.replace(b"1", b"2"), SECRET, now=NOW)


@pytest.mark.parametrize("skew", [301, -301])
def test_a_timestamp_more_than_five_minutes_off_is_refused(skew: int) -> None:
    header = signature.sign(SECRET, NOW, BODY)
    with pytest.raises(signature.SignatureError, match="away from the server time"):
        signature.verify(header, BODY, SECRET, now=NOW + skew)


def test_during_a_rotation_one_matching_v1_among_several_is_enough() -> None:
    # Given the shop signs with its old and its new secret
    header = signature.sign(["old-secret", SECRET], NOW, BODY)
    # When we only know the new one, Then the request is accepted
    assert signature.verify(header, BODY, SECRET, now=NOW) == NOW
    # And we may also accept both secrets while rotating on our side
    assert signature.verify(signature.sign("old-secret", NOW, BODY), BODY, ["old-secret", SECRET], now=NOW)


@pytest.mark.parametrize("header", ["v1=abc", f"t={NOW}", "t=soon,v1=abc", "garbage"])
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(signature.SignatureError):
        signature.verify(header, BODY, SECRET, now=NOW)


def test_seatflow_sign_prints_a_header_the_api_accepts(tmp_path: Any, monkeypatch: Any, capsys: Any) -> None:
    import argparse

    from seatflow_local.commands import sign_command

    # Given an order file and the secret in WEBHOOK_SECRET
    order = tmp_path / "order.json"
    order.write_bytes(BODY)
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    # When `seatflow sign` runs
    sign_command(argparse.Namespace(order_file=str(order), timestamp=NOW))
    # Then it prints a header that verifies over the file's bytes
    name, _, value = capsys.readouterr().out.strip().partition(": ")
    assert name == "Seatflow-Signature"
    assert signature.verify(value, BODY, SECRET, now=NOW) == NOW


def test_the_local_secret_file_is_created_once_and_then_reused(tmp_path: Any, monkeypatch: Any) -> None:
    from seatflow_local.commands import local_webhook_secret

    # Given no WEBHOOK_SECRET and no secret file yet
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    path = tmp_path / ".seatflow" / "webhook_secret"
    # When the local secret is asked for twice
    first = local_webhook_secret(path)
    # Then a random secret is written once and read back the second time
    assert len(first) >= 32 and path.read_text().strip() == first
    assert local_webhook_secret(path) == first


# ------------------------------------------------------------------------------ hostile headers never crash
VALID_V1 = "0" * 64


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("t=²,v1=" + VALID_V1, "not a Unix time"),  # str.isdigit() accepts '²', int() refuses it
        ("t=١٢٣,v1=" + VALID_V1, "not a Unix time"),  # Arabic-Indic digits: int() would accept them
        ("t=" + "9" * 5000 + ",v1=" + VALID_V1, "longer than"),
        ("t=" + "9" * 13 + ",v1=" + VALID_V1, "at most 12 digits"),
        ("t=-5,v1=" + VALID_V1, "not a Unix time"),
        (f"t={NOW},v1=" + "a" * 65, "64 hex digits"),
        (f"t={NOW},v1=" + "z" * 64, "64 hex digits"),
        (f"t={NOW},v1=\ud800", "64 hex digits"),
        (f"t={NOW}," + ",".join(["v1=" + VALID_V1] * 9), "more than 8"),
        (",".join(["x=y"] * 300), "longer than"),
    ],
)
def test_a_hostile_header_is_refused_with_a_signature_error_naming_the_problem(header: str, says: str) -> None:
    # Given a header crafted to break the parser, When it is verified, Then only SignatureError is raised
    with pytest.raises(signature.SignatureError, match=says):
        signature.verify(header, BODY, SECRET, now=NOW)


def test_a_timestamp_of_twelve_ascii_digits_is_parsed() -> None:
    assert signature.parse(f"t={NOW:012d},v1={VALID_V1}") == (NOW, [VALID_V1])


def test_a_body_with_a_lone_surrogate_is_refused_not_crashed_on() -> None:
    header = signature.sign(SECRET, NOW, BODY)
    with pytest.raises(signature.SignatureError, match="not valid UTF-8"):
        signature.verify(header, "\ud800", SECRET, now=NOW)


def test_an_upper_case_signature_still_matches() -> None:
    header = signature.sign(SECRET, NOW, BODY).upper().replace("T=", "t=").replace("V1=", "v1=")
    assert signature.verify(header, BODY, SECRET, now=NOW) == NOW
