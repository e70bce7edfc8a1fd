"""The sandbox's HTTP side: a threaded server on Moodle's REST path, its knobs (latency, faults, maintenance),
and how to start one (in tests, the local runtime, `seatflow sandbox`)."""

from __future__ import annotations

import random
import secrets
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .gauge import CallGauge
from .registry import Mail
from .rest import REST_PATH, Answer, rest_answer
from .store import Store

FAULT_MODES = ("503", "hang", "html")
FAULT_PAGE = b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>"
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Moodle</title></head><body>Error reading from database</body></html>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the listen backlog: the workflow opens ~50 connections at once


class Sandbox:
    """A running sandbox: ``url``, ``token``, ``outbox``, ``state`` (inspection), knobs, ``stop()``."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        latency_ms: float = 0,
        fault_rate: float = 0.0,
        fault_mode: str = "503",
        seed: int | None = None,
        token: str | None = None,
        hang_seconds: float = 30.0,
    ) -> None:
        if fault_mode not in FAULT_MODES:
            raise ValueError(f"fault_mode must be one of {FAULT_MODES}")
        self.token = token or secrets.token_hex(16)
        self.fault_rate = fault_rate
        self.fault_mode = fault_mode
        self.hang_seconds = hang_seconds
        self.maintenance = False
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._stopping = threading.Event()
        self.httpd = _Server((host, port), _handler_for(self))
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.state = Store(site_url=self.url)
        self.calls_in_flight = CallGauge()
        self.state.set_latency(latency_ms)
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="moodle-sandbox", daemon=True)

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- knobs --------------------------------------------------------------------------------------
    @property
    def outbox(self) -> list[Mail]:
        """Mails Moodle sent: one "new account" mail per user inserted with createpassword=1, those a refused batch
        then rolled back included (``phantom``)."""
        with self.state.lock:
            return list(self.state.outbox)

    def set_fault_rate(self, rate: float, mode: str | None = None) -> None:
        if mode is not None:
            if mode not in FAULT_MODES:
                raise ValueError(f"fault_mode must be one of {FAULT_MODES}")
            self.fault_mode = mode
        self.fault_rate = rate

    @property
    def latency_ms(self) -> float:
        return self.state.site.latency * 1000

    def set_latency(self, latency_ms: float) -> None:
        """The time each web-service call takes (core_user_create_users spends it between its checks and its
        inserts, where Moodle's duplicate-username race happens)."""
        self.state.set_latency(latency_ms)

    def set_maintenance(self, on: bool = True) -> None:
        self.maintenance = on

    def set_allowed_functions(self, functions: Iterable[str] | None) -> None:
        """Functions in the token's service (None: all implemented). Others answer accessexception."""
        self.state.set_allowed_functions(functions)

    def set_config(self, name: str, value: Any) -> None:
        self.state.set_config(name, value)

    def reset(self) -> None:
        """Back to the fixture, knobs included (faults off, all functions allowed, no maintenance)."""
        self.state.reset()
        self.fault_rate, self.maintenance = 0.0, False

    def _draw_fault(self) -> bool:
        if self.fault_rate <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < self.fault_rate

    # --- one request ----------------------------------------------------------------------------------
    def handle(self, fields: list[tuple[str, str]]) -> Answer:
        """(HTTP status, content type, body) for one request to the REST endpoint."""
        self.state.count_call(dict(fields).get("wsfunction") or "")
        if self._draw_fault():
            self.state.count_fault()
            if self.fault_mode == "hang":
                self._stopping.wait(self.hang_seconds)
            elif self.fault_mode == "html":
                return 200, "text/html; charset=utf-8", HTML_PAGE
            return 503, "text/html; charset=utf-8", FAULT_PAGE
        return rest_answer(self.state, fields, token=self.token, maintenance=self.maintenance)


def _handler_for(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate writes: without this, Nagle and delayed ACKs add ~40 ms a call.
        disable_nagle_algorithm = True
        server_version = "MoodleSandbox/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and the CLI print enough
            pass

        def _serve(self, fields: list[tuple[str, str]]) -> None:
            if urlsplit(self.path).path != REST_PATH:
                self._send(404, "text/plain", b"not found")
                return
            try:
                with sandbox.calls_in_flight.track():
                    status, ctype, body = sandbox.handle(fields)
            except Exception as exc:  # a sandbox bug: answer like a broken PHP page would
                status, ctype, body = (
                    500,
                    "text/plain",
                    f"sandbox error: {type(exc).__name__}: {exc}".encode(),
                )
            self._send(status, ctype, body)

        def _send(self, status: int, ctype: str, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. its read timeout during a "hang" fault)

        def do_GET(self) -> None:
            self._serve(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            query = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
            self._serve(query + parse_qsl(body, keep_blank_values=True))

    return Handler


def start_sandbox(
    port: int = 0,
    *,
    latency_ms: float = 0,
    fault_rate: float = 0.0,
    fault_mode: str = "503",
    seed: int | None = None,
    token: str | None = None,
    host: str = "127.0.0.1",
) -> Sandbox:
    """Start a sandbox in a background thread (port 0: any free port)."""
    return Sandbox(
        port,
        host=host,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        fault_mode=fault_mode,
        seed=seed,
        token=token,
    ).start()


def sandbox_command(args: Any) -> int:
    """``seatflow sandbox``: serve until Ctrl-C, after printing MOODLE_URL and MOODLE_TOKEN."""
    sandbox = start_sandbox(
        int(getattr(args, "port", 0) or 0),
        latency_ms=float(getattr(args, "latency_ms", 0) or 0),
        fault_rate=float(getattr(args, "fault_rate", 0.0) or 0.0),
        fault_mode=getattr(args, "fault_mode", None) or "503",
        seed=getattr(args, "seed", None),
        token=getattr(args, "token", None),
    )
    print(f"MOODLE_URL={sandbox.url}", flush=True)
    print(f"MOODLE_TOKEN={sandbox.token}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("sandbox stopped", file=sys.stderr, flush=True)
    finally:
        sandbox.stop()
    return 0
