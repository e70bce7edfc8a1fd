"""Moodle's REST server (webservice/rest/server.php): the maintenance, token and service checks, then the function's
answer or error as JSON or as Moodle's XML (the default format)."""

from __future__ import annotations

import json
import secrets
from xml.sax.saxutils import escape, quoteattr

from .errors import (
    Envelope,
    WsError,
    access_exception,
    invalid_parameter,
    invalid_token,
    site_maintenance,
    unknown_function,
)
from .params import parse_form
from .service import IMPLEMENTED_FUNCTIONS, OTHER_MOODLE_FUNCTIONS
from .store import Store

REST_PATH = "/webservice/rest/server.php"
# Fields of the request that are the protocol's, not the function's parameters.
PROTOCOL_FIELDS = ("wstoken", "wsfunction", "moodlewsrestformat")

Answer = tuple[int, str, bytes]  # HTTP status, content type, body


def to_xml(value: object) -> str:
    """Moodle's REST XML for a return value."""
    if value is None:
        return '<VALUE null="null"/>\n'
    if isinstance(value, dict):
        keys = "".join(f'<KEY name="{escape(str(k))}">{to_xml(v)}</KEY>\n' for k, v in value.items())
        return f"<SINGLE>\n{keys}</SINGLE>\n"
    if isinstance(value, list):
        return "<MULTIPLE>\n" + "".join(to_xml(v) for v in value) + "</MULTIPLE>\n"
    if isinstance(value, bool):
        value = int(value)
    return f"<VALUE>{escape(str(value))}</VALUE>\n"


def xml_response(result: object) -> str:
    body = "" if result is None else to_xml(result)
    return f'<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n{body}</RESPONSE>\n'


def xml_error(envelope: Envelope) -> str:
    code = f"<ERRORCODE>{escape(envelope['errorcode'])}</ERRORCODE>\n" if "errorcode" in envelope else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8" ?>\n<EXCEPTION class={quoteattr(envelope["exception"])}>\n'
        f"{code}<MESSAGE>{escape(envelope['message'])}</MESSAGE>\n</EXCEPTION>\n"
    )


def rest_answer(store: Store, fields: list[tuple[str, str]], *, token: str, maintenance: bool) -> Answer:
    """The answer to one request: errors too come with HTTP 200, in the format asked for."""
    fmt = dict(fields).get("moodlewsrestformat", "xml")
    try:
        result = _call(store, fields, token=token, maintenance=maintenance)
    except WsError as error:
        if fmt == "json":
            return 200, "application/json", json.dumps(error.envelope).encode()
        return 200, "application/xml; charset=utf-8", xml_error(error.envelope).encode()
    if fmt == "json":
        return 200, "application/json", json.dumps(result).encode()
    return 200, "application/xml; charset=utf-8", xml_response(result).encode()


def _call(store: Store, fields: list[tuple[str, str]], *, token: str, maintenance: bool) -> object:
    """The checks in Moodle's order, then the function."""
    flat = dict(fields)
    wsfunction = flat.get("wsfunction")
    if maintenance:
        raise site_maintenance()
    if not secrets.compare_digest(flat.get("wstoken", ""), token):
        raise invalid_token()
    if not wsfunction:
        raise invalid_parameter()
    if wsfunction not in IMPLEMENTED_FUNCTIONS and wsfunction not in OTHER_MOODLE_FUNCTIONS:
        raise unknown_function()
    if wsfunction not in store.allowed_functions or wsfunction not in IMPLEMENTED_FUNCTIONS:
        raise access_exception()
    params = parse_form([(k, v) for k, v in fields if k not in PROTOCOL_FIELDS])
    return store.dispatch(wsfunction, params)
