"""`seatflow status|retry|amend|cancel|erase`: signed requests to a running `seatflow serve` (the real one for
status and erase; a recording endpoint for the shape of every request)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from seatflow import signature

from seatflow_local.cli import main
from seatflow_local.commands import local_webhook_secret
from seatflow_local.order_endpoint import serve_runtime
from seatflow_local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "events" / "order_spocm1.json").read_text(encoding="utf-8"))
ORDER_ID = SAMPLE["order_id"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LocalRuntime]]:
    """`seatflow serve` on a free port, the sample order fulfilled through it."""
    with LocalRuntime(events_path=tmp_path_factory.mktemp("events") / "events.jsonl") as runtime:
        server = serve_runtime(runtime, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        assert runtime.submit_order(json.dumps(SAMPLE))[0] == 202
        runtime.wait_for_order(ORDER_ID, timeout=300)
        yield f"http://127.0.0.1:{server.port}", runtime
        server.shutdown()
        thread.join(timeout=10)


def test_status_prints_the_orders_report(served: tuple[str, LocalRuntime], capsys: Any) -> None:
    url, _ = served
    # When the status of the fulfilled sample order is asked, as text and as JSON
    assert main(["status", ORDER_ID, "--url", url]) == 0
    text = capsys.readouterr().out
    assert main(["status", ORDER_ID, "--url", url, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # Then both say it is COMPLETED, the JSON being the order document
    assert f"Order {ORDER_ID}: COMPLETED" in text
    assert (document["order_id"], document["status"]) == (ORDER_ID, "COMPLETED")


def test_status_of_an_unknown_order_is_the_404_and_exit_1(served: tuple[str, LocalRuntime], capsys: Any) -> None:
    url, _ = served
    assert main(["status", "NO-SUCH-ORDER", "--url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("HTTP 404") and "order_not_found" in err


def test_erase_forgets_a_person_through_serve(served: tuple[str, LocalRuntime], capsys: Any) -> None:
    url, _ = served
    # When the tutor of the sample order is erased
    email = SAMPLE["participants"]["tutors"][0]["email"]
    assert main(["erase", email, "--url", url]) == 0
    # Then serve routed it to the order function, which erased their record
    assert json.loads(capsys.readouterr().out)["participants"] == 1
    assert main(["status", ORDER_ID, "--url", url, "--json"]) == 0
    tutor = next(p for p in json.loads(capsys.readouterr().out)["participants"] if p["role"] == "tutor")
    assert (tutor["email"], tutor["status"]) == ("", "ENROLLED")


@pytest.fixture
def shop_side() -> Iterator[tuple[str, list[tuple[str, str, dict[str, str], bytes]]]]:
    """An endpoint that records each request (method, path, headers, body) and answers 202 `{}`."""
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    class Recorder(BaseHTTPRequestHandler):
        def _record(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.command, self.path, dict(self.headers.items()), body))
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_PUT = do_GET = _record  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_each_lifecycle_command_sends_its_signed_request(shop_side: Any, tmp_path: Path, capsys: Any) -> None:
    url, seen = shop_side
    amended = tmp_path / "amended.json"
    amended.write_text(json.dumps({**SAMPLE, "revision": 2}), encoding="utf-8")
    # When retry, amend, cancel and erase are run
    assert main(["retry", ORDER_ID, "--url", url]) == 0
    assert main(["amend", str(amended), "--url", url]) == 0
    assert main(["amend", str(ROOT / "events" / "order_spocm1.json"), "--revision", "3", "--url", url]) == 0
    assert main(["cancel", ORDER_ID, "--url", url]) == 0
    assert main(["erase", "jean.dupont@acme-training.example", "--url", url]) == 0
    # Then each is the route the order API takes, its body as documented, signed over the exact bytes sent
    requests = [(method, path, json.loads(body)) for method, path, _, body in seen]
    assert requests == [
        ("POST", f"/orders/{ORDER_ID}/retry", {}),
        ("PUT", f"/orders/{ORDER_ID}", {**SAMPLE, "revision": 2}),
        ("PUT", f"/orders/{ORDER_ID}", {**SAMPLE, "revision": 3}),
        ("POST", f"/orders/{ORDER_ID}/cancellation", {"reason": "refund"}),
        ("POST", "/erasures", {"email": "jean.dupont@acme-training.example"}),
    ]
    for _, _, headers, body in seen:
        signature.verify(headers[signature.HEADER], body, local_webhook_secret(), now=int(time.time()))


def test_an_amendment_without_a_revision_is_refused_before_sending(shop_side: Any, capsys: Any) -> None:
    url, seen = shop_side
    assert main(["amend", str(ROOT / "events" / "order_spocm1.json"), "--url", url]) == 2
    assert '"revision"' in capsys.readouterr().err
    assert seen == []


def test_nothing_listening_is_one_line_and_exit_2(capsys: Any) -> None:
    assert main(["status", ORDER_ID, "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "start `seatflow serve` first" in err and err.count("\n") == 1
