"""A request's body as a JSON object, read within bounds (`seatflow.json_body`), or a 4xx naming the problem.

It runs once the signature is checked and before the resolver, so no body reaches Powertools' `json.loads`
unless it is JSON that parses within those bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seatflow.intake.errors import InvalidJson, UnsupportedMediaType
from seatflow.json_body import JsonBodyError, parse_order_json
from seatflow.models.order import Problem

JSON_MEDIA_TYPE = "application/json"


def read_json_body(headers: Mapping[str, str] | None, body: bytes) -> dict[str, Any]:
    """The body's JSON object; UnsupportedMediaType unless it is sent as JSON, InvalidJson unless it is one."""
    content_type = next((v for k, v in (headers or {}).items() if k.lower() == "content-type"), "")
    # Powertools reads a body without a Content-Type as JSON too; anything else it would parse its own way.
    if content_type.strip() and not content_type.strip().startswith(JSON_MEDIA_TYPE):
        raise UnsupportedMediaType(f"send the order as {JSON_MEDIA_TYPE}, not {content_type.strip()[:100]}")
    try:
        value = parse_order_json(body)
    except JsonBodyError as refused:
        raise InvalidJson(refused.message, [Problem(field=refused.field, message=refused.message)]) from None
    if not isinstance(value, dict):
        message = f"must be a JSON object, not {_json_kind(value)}"
        raise InvalidJson(f"the body {message}", [Problem(field="body", message=message)])
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return "null"
