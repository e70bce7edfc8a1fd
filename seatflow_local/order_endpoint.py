"""`seatflow serve`'s HTTP side: API Gateway's part, played by werkzeug in front of the in-process order function.

As API Gateway does, it routes (every `Api` event of template.yaml's functions: `POST /orders`,
`GET /orders/{order_id}`, `POST /erasures`, and each route added there), decodes the path, reads the body
within a bound and answers whatever is not a well-formed request itself, always in JSON: 404 for another
path, 405 with `Allow` for another method, 411 without a length, 400 for a bad length or chunk, 413 over the
bound. Everything else becomes an API Gateway proxy event for the order function, whose answer is sent back
as it is; a crash of the function is a JSON 502, as on AWS.

The server is werkzeug's threaded one with a listen backlog of LISTEN_BACKLOG: `http.server`'s default of
5 reset most of 100 simultaneous connections.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import get_path_info

from seatflow_local.template import Template

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from seatflow_local.runtime import LocalRuntime

# API Gateway's payload limit; the order function applies its own, smaller one.
MAX_BODY_BYTES = 10 * 1024 * 1024
LISTEN_BACKLOG = 1024  # the kernel caps it at net.core.somaxconn (4096 on current Linux)
READ_TIMEOUT_SECONDS = 30  # a client that stops sending mid-body must not hold a thread forever
# The routes API Gateway serves, as template.yaml declares them: (method, path with {parameters}).
API_ROUTES = Template().api_routes()
ROUTES = ", ".join(f"{method} {path}" for method, path in API_ROUTES)
_CONTROL_CHARACTERS = str.maketrans({c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]})

# An API Gateway proxy event for (method, decoded path, path parameters); the order function's answer to one.
EventFor = Callable[[str, str, dict[str, str] | None], dict[str, Any]]
Invoke = Callable[[dict[str, Any]], dict[str, Any]]


class Refusal(Exception):
    """A request answered here, before the order function: status, error code, message, extra headers."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers or {}


def order_endpoint_app(event_for: EventFor, invoke: Invoke) -> Callable[..., Iterable[bytes]]:
    """The WSGI application: route, read, call the order function, answer."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            method, path = environ["REQUEST_METHOD"], get_path_info(environ).rstrip("/") or "/"
            resource, path_parameters = _route(method, path)
            body = _read_body(environ, method)
            event = event_for(method, path, path_parameters)
            event["resource"] = event.setdefault("requestContext", {})["resourcePath"] = resource
            event["headers"] = dict(EnvironHeaders(environ).items())
            try:
                event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
            except UnicodeDecodeError:  # API Gateway hands over bytes that are not text base64-encoded
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
            status, headers, payload = _call(invoke, event)
        except Refusal as refused:
            status, headers = refused.status, {"Content-Type": "application/json", **refused.headers}
            payload = json.dumps({"error": refused.error, "message": refused.message}).encode()
        headers["Content-Length"] = str(len(payload))
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, '')}".strip(), list(headers.items()))
        return [payload]

    return app


def _route(method: str, path: str) -> tuple[str, dict[str, str] | None]:
    """The route's resource (`/orders/{order_id}`) and path parameters; a Refusal for another path (404) or
    another method (405, with the methods the path takes)."""
    allowed: dict[str, tuple[str, dict[str, str]]] = {}
    for route_method, resource in API_ROUTES:
        parameters = _match(resource, path)
        if parameters is not None:
            allowed[route_method] = (resource, parameters)
    if not allowed:
        raise Refusal(404, "not_found", f"no route for {path}: this endpoint serves {ROUTES}")
    if method not in allowed:
        methods = ", ".join(sorted(allowed))
        raise Refusal(
            405, "method_not_allowed", f"{method} is not allowed on {path}: use {methods}", {"Allow": methods}
        )
    resource, parameters = allowed[method]
    return resource, parameters or None


def _match(resource: str, path: str) -> dict[str, str] | None:
    """The path parameters when `path` fits `resource` (`{name}` takes one non-empty segment), else None."""
    expected, given = resource.strip("/").split("/"), path.strip("/").split("/")
    if len(expected) != len(given):
        return None
    parameters: dict[str, str] = {}
    for part, value in zip(expected, given, strict=True):
        if part.startswith("{") and part.endswith("}") and value:
            parameters[part[1:-1]] = value
        elif part != value:
            return None
    return parameters


def _read_body(environ: WSGIEnvironment, method: str) -> bytes:
    """The request body: chunked, or exactly Content-Length bytes (required for POST), at most MAX_BODY_BYTES."""
    stream = environ["wsgi.input"]
    try:
        if environ.get("wsgi.input_terminated"):  # werkzeug de-chunks `Transfer-Encoding: chunked`
            body = stream.read(MAX_BODY_BYTES + 1)
        else:
            length = _content_length(environ.get("CONTENT_LENGTH"), required=method == "POST")
            body = stream.read(length) if length else b""
            if len(body) < length:
                raise Refusal(400, "bad_request", f"the body ended after {len(body)} of its {length} bytes")
    except TimeoutError:
        raise Refusal(408, "request_timeout", f"the body did not arrive within {READ_TIMEOUT_SECONDS}s") from None
    except OSError as exc:  # werkzeug's de-chunker: a malformed chunk
        raise Refusal(400, "bad_request", f"the chunked body is malformed ({exc})") from None
    if len(body) > MAX_BODY_BYTES:
        raise Refusal(413, "payload_too_large", f"the body is larger than {MAX_BODY_BYTES:,} bytes")
    return bytes(body)


def _content_length(value: str | None, *, required: bool) -> int:
    if value is None or not value.strip():
        if required:
            raise Refusal(411, "length_required", "send Content-Length (or a chunked body) with the order")
        return 0
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        raise Refusal(400, "bad_request", f"Content-Length must be a number of bytes, got {value[:40]!r}")
    if len(value) > 12 or int(value) > MAX_BODY_BYTES:
        raise Refusal(413, "payload_too_large", f"the body is larger than {MAX_BODY_BYTES:,} bytes")
    return int(value)


def _call(invoke: Invoke, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    try:
        response = invoke(event)
        status = int(response["statusCode"])
    except Exception as exc:  # noqa: BLE001 - API Gateway answers 502 whatever the function raised
        print(f"the order function failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        raise Refusal(502, "bad_gateway", f"the order function failed ({type(exc).__name__})") from None
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    body = response.get("body") or ""
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    return status, headers, payload


class OrderRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, with JSON for the errors `http.server` answers itself (a malformed request line,
    headers too long) and a read timeout."""

    timeout = READ_TIMEOUT_SECONDS
    # http.server's default, HTTP/0.9, answers a garbled request line without a status line or headers.
    default_request_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug colours this line with ANSI codes even when stderr is a file
        self.log("info", '"%s" %s %s', self.requestline.translate(_CONTROL_CHARACTERS), code, size)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        reason = HTTP_STATUS_CODES.get(code, "Error")
        payload = json.dumps({"error": reason.lower().replace(" ", "_"), "message": message or reason}).encode()
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, reason)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(payload)


class OrderEndpointServer(ThreadedWSGIServer):
    request_queue_size = LISTEN_BACKLOG


def make_order_server(host: str, port: int, event_for: EventFor, invoke: Invoke) -> OrderEndpointServer:
    """A started, not yet serving, server (port 0: any free port; `server.port` says which)."""
    return OrderEndpointServer(host, port, order_endpoint_app(event_for, invoke), handler=OrderRequestHandler)


def serve_runtime(runtime: LocalRuntime, host: str, port: int) -> OrderEndpointServer:
    """The server in front of a started local runtime's order function."""

    def event_for(method: str, path: str, path_parameters: dict[str, str] | None) -> dict[str, Any]:
        return runtime.api_event(method, path, "", path_parameters=path_parameters)

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        assert runtime.lambdas is not None
        return dict(runtime.lambdas.invoke_json("OrderApiFunction", event))

    return make_order_server(host, port, event_for, invoke)
