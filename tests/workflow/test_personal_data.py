"""Personal data over a whole run, in the local runtime: the retention the session sets, and an erasure after it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from seatflow_local.runtime import REGION, LocalRuntime

EVENTS = Path(__file__).resolve().parents[2] / "events"
DAY = 86_400


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    with LocalRuntime(events_path=tmp_path / "events.jsonl") as rt:
        yield rt


def test_a_fulfilled_order_keeps_personal_data_until_a_year_after_its_session_then_can_be_erased(runtime):
    # Given the sample order for a session starting in 10 days, for 35 days, fulfilled
    order = json.loads((EVENTS / "order_spocm1.json").read_text(encoding="utf-8"))
    start = int(time.time()) // DAY * DAY + 10 * DAY
    order["product"]["params"] = f"coursename=SPOCM1&starttime={start}&endtime=+35D"
    assert runtime.submit_order(json.dumps(order))[0] == 202
    runtime.wait_for_order(order["order_id"], timeout=300)
    # Then its retention item expires RetentionDays (365) after the session's end
    key = {"PK": {"S": f"ORDER#{order['order_id']}"}, "SK": {"S": "RETENTION"}}
    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName=runtime.table_name, Key=key)["Item"]
    assert int(item["expiration"]["N"]) == start + 35 * DAY + 365 * DAY
    # When the shop asks to erase the tutor
    email = order["participants"]["tutors"][0]["email"]
    status, answer = runtime.call_api(runtime.api_event("POST", "/erasures", json.dumps({"email": email})))
    # Then their participant record and the claim of the account the order created for them are erased
    assert (status, answer) == (200, {"erased": 2, "participants": 1, "operators": 0, "account_claims": 1})
    # and the report keeps the tutor's Moodle id and status, not the person
    _, document = runtime.get_order(order["order_id"])
    [tutor] = [p for p in document["participants"] if p["role"] == "tutor"]
    assert (tutor["email"], tutor["firstname"], tutor["status"]) == ("", "", "ENROLLED")
    assert tutor["moodle_user_id"] is not None and tutor["erased_at"] is not None
