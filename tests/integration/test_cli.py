"""The `seatflow` command line: one-line refusals, the environment in --help, the sandbox's options."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from seatflow_local.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "events" / "order_spocm1.json"


@pytest.mark.parametrize("command", ["run", "sign"])
def test_a_missing_order_file_is_one_line_and_exit_2(command: str, tmp_path: Path, capsys: Any) -> None:
    # Given an order file that does not exist
    missing = tmp_path / "nope.json"
    # When the command is given it
    status = main([command, str(missing)])
    # Then it says so in one line, without a traceback
    err = capsys.readouterr().err
    assert status == 2
    assert err == f"seatflow {command}: cannot read the order file {missing}: No such file or directory\n"


def test_an_order_file_that_is_not_utf8_is_one_line_and_exit_2(tmp_path: Path, capsys: Any) -> None:
    order = tmp_path / "latin1.json"
    order.write_bytes('{"order_id": "café"}'.encode("latin-1"))
    assert main(["run", str(order)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(("present", "absent"), [("MOODLE_URL", "MOODLE_TOKEN"), ("MOODLE_TOKEN", "MOODLE_URL")])
@pytest.mark.parametrize("command", [["run", str(SAMPLE)], ["serve"], ["doctor"]])
def test_half_a_moodle_setting_is_refused_before_anything_starts(
    command: list[str], present: str, absent: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Given a Moodle URL without its token (or the other way round)
    monkeypatch.setenv(present, "https://moodle.example.com" if present == "MOODLE_URL" else "t0ken")
    monkeypatch.delenv(absent, raising=False)
    # When a command that talks to Moodle runs, Then it refuses, naming both settings, instead of using the sandbox
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"{present} is set" in err and f"{absent} is not" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", [[], ["run"], ["serve"], ["sign"], ["doctor"]])
def test_help_lists_the_environment_variables(command: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    for name in ("MOODLE_URL", "MOODLE_TOKEN", "MOODLE_ROLE_IDS", "WEBHOOK_SECRET", "SEATFLOW_LOG_LEVEL"):
        assert name in out


def test_the_sandbox_takes_its_token_seed_and_fault_mode_from_the_command_line() -> None:
    # Given the sandbox started with a chosen token, every call failing as an HTML page, and a seed
    argv = ["sandbox", "--port", "0", "--token", "tok-123", "--fault-rate", "1", "--fault-mode", "html", "--seed", "7"]
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "seatflow_local.cli", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"PYTHONPATH": f"{ROOT / 'layers' / 'seatflow'}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    try:
        assert sandbox.stdout is not None
        url = sandbox.stdout.readline().strip().removeprefix("MOODLE_URL=")
        token = sandbox.stdout.readline().strip()
        # When a web-service call is made
        query = "wstoken=tok-123&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json"
        with urllib.request.urlopen(f"{url}/webservice/rest/server.php?{query}", timeout=10) as answer:
            content_type = answer.headers["Content-Type"]
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    # Then it uses the given token, and fails the way it was told to
    assert token == "MOODLE_TOKEN=tok-123"
    assert content_type.startswith("text/html")


def test_an_unknown_fault_mode_is_one_line_and_exit_2(capsys: Any) -> None:
    assert main(["sandbox", "--port", "0", "--fault-mode", "teapot"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seatflow sandbox: fault_mode must be one of") and err.count("\n") == 1
