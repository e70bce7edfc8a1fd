"""No personal data in traces: an order run with X-Ray tracing on, as on Lambda, leaves no participant's or
operator's email or name in any segment it sends (metadata, annotations, HTTP and AWS call details).

Powertools' Tracer decides once per process whether it traces and what it patches, when seatflow is first
imported, so the order runs in a child process started with Lambda's environment; X-Ray's recorder sends what
it would send the daemon to an in-memory emitter, and the child writes it to a file for the test to read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
LAMBDA_ENVIRONMENT = {
    "LAMBDA_TASK_ROOT": str(ROOT),  # the Tracer traces in Lambda only
    "_X_AMZN_TRACE_ID": "Root=1-6747a0c0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
    "POWERTOOLS_TRACE_DISABLED": "false",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}


def people(order: dict[str, Any]) -> list[dict[str, str]]:
    return [order["operator"], *order["participants"]["learners"], *order["participants"]["tutors"]]


def test_an_order_run_with_tracing_sends_no_email_or_name_in_any_segment(tmp_path: Path) -> None:
    # Given the sample order, its people's emails and names
    order = json.loads((EVENTS / "order_spocm1.json").read_text(encoding="utf-8"))
    # When it is posted, fulfilled and its report read, with tracing on as on Lambda
    captured = tmp_path / "segments.json"
    subprocess.run(
        [sys.executable, __file__, str(captured), str(tmp_path / "local.jsonl")],
        cwd=ROOT,
        env={
            **os.environ,
            **LAMBDA_ENVIRONMENT,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/seatflow"), str(ROOT)]),
        },
        check=True,
        timeout=600,
    )
    result = json.loads(captured.read_text(encoding="utf-8"))
    segments = [json.loads(entity) for entity in result["entities"]]
    text = "\n".join(json.dumps(segment, ensure_ascii=False) for segment in segments)

    # Then the order completed and its report named everyone (the data existed to leak)
    assert result["report"]["status"] == "COMPLETED"
    assert {p["email"] for p in result["report"]["participants"]} == {p["email"] for p in people(order)[1:]}
    # and every handler, DynamoDB call and Moodle call was traced
    names = {segment["name"] for segment in segments}
    assert {"## lambda_handler", "dynamodb"} <= names
    assert any(
        segment.get("http", {}).get("request", {}).get("url", "").endswith("/server.php") for segment in segments
    )
    # and no segment holds an email or a name
    for person in people(order):
        assert person["email"].lower() not in text.lower()
        assert person["firstname"] not in text and person["lastname"] not in text


def run_order_with_tracing(captured: Path, log_path: Path) -> None:
    """The child: X-Ray's recorder keeps what it sends; one order is posted, fulfilled and reported."""
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

    entities: list[str] = []

    class InMemoryEmitter(UDPEmitter):
        def send_entity(self, entity: Any) -> None:
            entities.append(entity.serialize())

    xray_recorder.configure(emitter=InMemoryEmitter())
    from seatflow_local.runtime import LocalRuntime

    body = (EVENTS / "order_spocm1.json").read_text(encoding="utf-8")
    order_id = json.loads(body)["order_id"]
    with LocalRuntime(tracing=True, log_path=log_path) as rt:
        status, answer = rt.submit_order(body)
        assert status == 202, answer
        rt.wait_for_order(order_id, timeout=300)
        _, report = rt.get_order(order_id)
    captured.write_text(json.dumps({"entities": entities, "report": report}), encoding="utf-8")


if __name__ == "__main__":
    run_order_with_tracing(Path(sys.argv[1]), Path(sys.argv[2]))
