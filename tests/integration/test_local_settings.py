"""The settings the README names are the local runtime's: MOODLE_ROLE_IDS and WEBHOOK_SECRET are honoured by
run, serve and doctor as by sign, and a setting that cannot be honoured is refused in one line."""

from __future__ import annotations

import time
from typing import Any

import pytest
from seatflow import signature

from seatflow_local.cli import main
from seatflow_local.runtime import LocalRuntime


def test_moodle_role_ids_from_the_environment_are_the_ones_the_functions_use(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Given a role map in the environment that moves the supervisor role
    monkeypatch.setenv("MOODLE_ROLE_IDS", '{"teacher": 3}')
    # When doctor checks a product whose supervisor is the teacher
    main(["doctor", "--product", "coursename=SPOCM1&supervisor=teacher"])
    out = capsys.readouterr().out
    # Then the functions' settings map teacher to 3, and doctor says where the map comes from
    assert "role teacher is mapped to id 3" in out
    assert "roles: manager 1, editingteacher 3, teacher 3, student 5 (teacher from MOODLE_ROLE_IDS" in out


@pytest.mark.parametrize("value", ["{customer: 9}", '["customer", 9]', '{"customer": "nine"}'])
@pytest.mark.parametrize("command", [["serve"], ["doctor"]])
def test_a_role_map_that_is_not_one_is_one_line_and_exit_2(
    command: list[str], value: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("MOODLE_ROLE_IDS", value)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"seatflow {command[0]}: MOODLE_ROLE_IDS ") and err.count("\n") == 1


def test_webhook_secret_from_the_environment_is_the_one_the_order_endpoint_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a webhook secret in the environment, as `seatflow sign` reads it
    monkeypatch.setenv("WEBHOOK_SECRET", "the-shop-and-seatflow-share-this")
    with LocalRuntime() as runtime:
        # When a request signed with it reaches the order endpoint
        event = runtime.api_event("GET", "/orders/SHOP-NOPE", "", path_parameters={"order_id": "SHOP-NOPE"})
        event["headers"][signature.HEADER] = signature.sign("the-shop-and-seatflow-share-this", int(time.time()), "")
        status, answer = runtime.call_api(event)
    # Then it is authenticated (the order is unknown, not the signer)
    assert (status, answer["error"]) == (404, "order_not_found")
