"""`seatflow run`: what a user reads. `--json` is one JSON document on stdout whatever happened; the report is
quiet (no third-party warnings, no progress frames when redirected), its timeline in time order."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from seatflow_local.cli import main

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOISE = ("ToleratedFailurePercentage", "FailureEventException", "No application metrics", '{"_aws"')


def order_file(tmp_path: Path, order_id: str, params: str) -> Path:
    order = json.loads((EVENTS / "order_spocm1.json").read_text(encoding="utf-8"))
    order["order_id"], order["product"]["params"] = order_id, params
    path = tmp_path / f"{order_id}.json"
    path.write_text(json.dumps(order), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        # PrepareSession fails: moto dumps the Fail state, the functions log the failure
        ("coursename=NOPE", "FAILED", "'NOPE' does not exist"),
        # Moodle refuses the operator's support enrolment: a MoodleErrors metric is published
        ("coursename=SPOCM1&customersupport=NOMANUAL", "COMPLETED", "customer-support course 'NOMANUAL'"),
    ],
    ids=["unknown-course", "moodle-refuses"],
)
def test_run_json_is_one_json_document_on_stdout_whatever_happens(
    tmp_path: Path, capsys: Any, params: str, status: str, says: str
) -> None:
    # Given an order that fails, or that Moodle partly refuses
    path = order_file(tmp_path, "SHOP-JSON-1", params)
    # When it is run with --json
    main(["run", "--json", str(path)])
    out, err = capsys.readouterr()
    # Then the whole of stdout is the order's document, and neither stream carries third-party noise
    document = json.loads(out)
    assert document["status"] == status
    assert says in json.dumps(document)
    assert not [word for word in NOISE if word in out + err]


def test_run_redirected_is_quiet_ordered_and_says_which_moodle_and_roles(tmp_path: Path, capsys: Any) -> None:
    # Given the sample order, and stdout and stderr that are not a terminal
    path = order_file(tmp_path, "SHOP-REPORT-1", "coursename=SPOCM1&starttime=1767225600&customersupport=SUPPORT")
    # When it is run
    assert main(["run", str(path)]) == 0
    out, err = capsys.readouterr()
    # Then it says which Moodle and which role map it uses, before anything else
    assert err.startswith("seatflow: Moodle: embedded sandbox at http://127.0.0.1:")
    assert "seatflow: roles: manager 1, editingteacher 3, teacher 4, student 5, customer 9" in err
    # and no progress frame, third-party warning or repeated line reaches the output
    assert "\r" not in out + err and "participants [" not in err
    assert not [word for word in NOISE if word in out + err]
    assert "attached to the operator" not in out
    # and the timeline's rows come in the order their states were entered
    timeline = out[out.index("how it ended") :].splitlines()[1:]
    offsets = [float(m.group(1)) for line in timeline if (m := re.match(r"\s+(\d+\.\d{3})\s", line))]
    assert len(offsets) >= 6 and offsets == sorted(offsets)
