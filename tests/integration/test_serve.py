"""`seatflow serve`: the order endpoint over real HTTP, in front of the local runtime's order function."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from seatflow import signature

from seatflow_local.commands import local_webhook_secret
from seatflow_local.order_endpoint import OrderEndpointServer, serve_runtime
from seatflow_local.runtime import LocalRuntime


@pytest.fixture(scope="module")
def server() -> Iterator[OrderEndpointServer]:
    with LocalRuntime() as runtime:
        server = serve_runtime(runtime, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server
        server.shutdown()
        thread.join(timeout=10)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


def signed(body: bytes = b"") -> str:
    return signature.sign(local_webhook_secret(), int(time.time()), body)


def exchange(server: OrderEndpointServer, raw: bytes, *, timeout: float = 30) -> Answer:
    """Send raw bytes (malformed on purpose, where http.client would fix them) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as conn:
        conn.sendall(raw)
        return read_answer(conn)


def read_answer(conn: socket.socket) -> Answer:
    conn.settimeout(60)
    data = b""
    while chunk := conn.recv(65536):  # the server closes every connection after its answer
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return Answer(int(status_line.split()[1]), headers, json.loads(body))


def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def test_a_hundred_simultaneous_connections_all_get_an_answer(server: OrderEndpointServer) -> None:
    # Given 100 clients connected at once, before any of them sends its request. A full listen queue drops
    # connection attempts: the client retries after 1 s, 3 s... (or is reset), so a queue of 5 takes ~20 s here.
    started = time.monotonic()
    connections = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(100)]
    assert time.monotonic() - started < 5, "connections waited for room in the listen queue"
    try:
        # When each sends a signed GET of an unknown order
        for index, conn in enumerate(connections):
            conn.sendall(request("GET", f"/orders/NOPE-{index}", {"Seatflow-Signature": signed()}))
        # Then all 100 are answered, by the order function itself
        with ThreadPoolExecutor(max_workers=100) as pool:
            answers = list(pool.map(read_answer, connections))
    finally:
        for conn in connections:
            conn.close()
    assert [a.status for a in answers] == [404] * 100
    assert {a.body["error"] for a in answers} == {"order_not_found"}


def test_a_percent_encoded_path_is_decoded_before_it_reaches_the_function(server: OrderEndpointServer) -> None:
    answer = exchange(server, request("GET", "/orders/SHOP%2D2026%2D9", {"Seatflow-Signature": signed()}))
    assert answer.status == 404 and answer.body["message"] == "no order SHOP-2026-9"


def test_a_chunked_body_is_read_and_verified_not_refused_as_unsigned(server: OrderEndpointServer) -> None:
    # Given a signed body sent in two chunks
    body = b'{"order_id": "SHOP-CHUNKED"}'
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    headers = {"Transfer-Encoding": "chunked", "Content-Type": "application/json", "Seatflow-Signature": signed(body)}
    # When it is posted
    answer = exchange(server, request("POST", "/orders", headers, chunked))
    # Then the signature matched the reassembled body, and the order is judged on its content
    assert answer.status == 422 and answer.body["error"] == "invalid_order"


@pytest.mark.parametrize(
    ("raw", "status", "error", "says"),
    [
        (request("POST", "/orders", {"Content-Type": "application/json"}), 411, "length_required", "Content-Length"),
        (request("POST", "/orders", {"Content-Length": "abc"}, b"{}"), 400, "bad_request", "'abc'"),
        (request("POST", "/orders", {"Content-Length": "-1"}), 400, "bad_request", "Content-Length"),
        (request("POST", "/orders", {"Content-Length": "9" * 30}), 413, "payload_too_large", "larger than"),
        (
            request("POST", "/orders", {"Transfer-Encoding": "chunked"}, b"zz\r\n{}\r\n0\r\n\r\n"),
            400,
            "bad_request",
            "chunk",
        ),
        (request("PUT", "/orders", {"Content-Length": "2"}, b"{}"), 405, "method_not_allowed", "use POST"),
        (request("DELETE", "/orders/SHOP-1"), 405, "method_not_allowed", "use GET"),
        (request("GET", "/admin"), 404, "not_found", "POST /orders"),
        (b"NONSENSE\r\n\r\n", 400, "bad_request", "Bad request"),
    ],
)
def test_a_malformed_request_gets_a_json_4xx_naming_the_problem(
    server: OrderEndpointServer, raw: bytes, status: int, error: str, says: str
) -> None:
    answer = exchange(server, raw)
    assert (answer.status, answer.body["error"]) == (status, error)
    assert says in answer.body["message"]
    assert answer.headers["content-type"] == "application/json"


def test_a_wrong_method_is_told_which_one_is_allowed(server: OrderEndpointServer) -> None:
    # DELETE is no route of the API: the answer names the methods the path takes
    assert "GET" in exchange(server, request("DELETE", "/orders/SHOP-1")).headers["allow"].split(", ")


def test_a_body_cut_short_is_answered_when_the_client_stops_sending(server: OrderEndpointServer) -> None:
    # Given a client announcing 100 bytes, sending 2, then closing its side
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(request("POST", "/orders", {"Content-Length": "100", "Seatflow-Signature": signed()}, b"{}"))
        conn.shutdown(socket.SHUT_WR)
        # Then it still gets an answer saying so
        answer = read_answer(conn)
    assert answer.status == 400 and "ended after 2 of its 100 bytes" in answer.body["message"]
