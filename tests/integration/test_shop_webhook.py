"""The shop's webhook: order events from the SQS queue, POSTed signed to a real HTTP endpoint standing in for
the shop; what the shop refuses comes back as a batch item failure, to be tried again."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from seatflow import signature
from seatflow.lifecycle.webhook import WebhookNotDelivered, deliver_event

from tests.fixtures.aws import WEBHOOK_SECRET, FakeLambdaContext

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Shop:
    """An HTTP endpoint that records what it receives and answers `status`."""

    url: str
    status: int = 200
    refused_types: set[str] = field(default_factory=set)  # answered 500 whatever `status` says
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def shop(aws_env: None) -> Iterator[Shop]:
    shop = Shop(url="")

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            shop.received.append((dict(self.headers.items()), body))
            refused = json.loads(body).get("type") in shop.refused_types
            self.send_response(500 if refused else shop.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    shop.url = f"http://127.0.0.1:{server.server_address[1]}/seatflow-events"
    yield shop
    server.shutdown()
    server.server_close()


def an_event(detail_type: str = "Order Completed", **detail: Any) -> dict[str, Any]:
    """An order event as EventBridge puts it in the queue."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "seatflow",
        "account": "123456789012",
        "time": "2026-11-27T10:00:00Z",
        "region": "eu-west-3",
        "resources": [],
        "detail": {"order_id": "SHOP-2026-0001", "revision": 1, "status": "COMPLETED", "event_id": "e" * 32, **detail},
    }


def test_an_event_reaches_the_shop_signed_with_the_webhook_secret(shop: Shop) -> None:
    # Given the shop's endpoint
    # When an order event is delivered
    status = deliver_event(an_event(), url=shop.url)
    # Then the shop got it once, and its signature checks out with the secret the shop signs its orders with
    assert status == 200
    [(headers, body)] = shop.received
    signature.verify(headers[signature.HEADER], body, WEBHOOK_SECRET, now=int(time.time()))
    payload = json.loads(body)
    assert payload == {
        "id": "e" * 32,
        "type": "Order Completed",
        "time": "2026-11-27T10:00:00Z",
        "detail": an_event()["detail"],
    }
    # and nothing of the AWS account travels
    assert b"123456789012" not in body


def test_an_event_the_shop_refuses_is_not_delivered(shop: Shop) -> None:
    # Given a shop answering 503
    shop.status = 503
    # When an event is delivered, Then it is reported as not delivered, to be tried again
    with pytest.raises(WebhookNotDelivered, match="503"):
        deliver_event(an_event(), url=shop.url)


def test_a_shop_that_does_not_answer_is_not_delivered(aws_env: None) -> None:
    # Given an address where nothing listens
    # When an event is delivered, Then it is reported as not delivered
    with pytest.raises(WebhookNotDelivered, match="did not answer"):
        deliver_event(an_event(), url="http://127.0.0.1:9/none")


def load_handler() -> ModuleType:
    path = ROOT / "functions" / "shop_webhook" / "app.py"
    spec = importlib.util.spec_from_file_location("seatflow_shop_webhook_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_function_reports_only_the_events_the_shop_refused(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a queue batch of two events, and a shop that takes the order's event but refuses the participant's
    monkeypatch.setenv("SHOP_WEBHOOK_URL", shop.url)
    shop.refused_types = {"Participant Needs Review"}
    records = [
        {"messageId": f"m-{n}", "receiptHandle": f"r-{n}", "body": json.dumps(an_event(kind)), "eventSource": "aws:sqs"}
        for n, kind in enumerate(("Order Completed", "Participant Needs Review"), start=1)
    ]
    # When the function handles the batch
    answer = load_handler().lambda_handler({"Records": records}, FakeLambdaContext())
    # Then both were tried, and only the refused one comes back to the queue
    assert len(shop.received) == 2
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
