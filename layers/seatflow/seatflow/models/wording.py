"""Validation errors in plain words, at a field path a shop's developer recognises: what a 422 says."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic_core import InitErrorDetails, PydanticCustomError


def field_path(loc: Sequence[int | str]) -> str:
    """`("participants", "learners", 3, "email")` -> `participants.learners[3].email`; `()` -> `body`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


# What a JSON value is called, for "must be a whole number, not text".
_JSON_KIND = {str: "text", bool: "true or false", int: "a whole number", float: "a decimal number", list: "a list"}
_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
}
_OBJECT_EXPECTED = {"model_type", "model_attributes_type", "dict_type"}
_BOUNDS = {
    "greater_than_equal": "at least",
    "less_than_equal": "at most",
    "greater_than": "more than",
    "less_than": "less than",
}


def plain_message(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error (an item of `ValidationError.errors()`) in plain words, e.g.
    "must not be empty" for "Value should have at least 1 item". An error it already rewrote (its context
    gone) keeps its message."""
    kind, message, value = error.get("type"), str(error.get("msg", "is invalid")), error.get("input")
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    loc = tuple(error.get("loc", ()))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "string_pattern_mismatch" and loc[-1:] == ("order_id",):
        return "must be 1 to 64 characters among letters, digits, '.', '_' and '-'"
    if kind in _EXPECTED:
        given = _JSON_KIND.get(type(value), "an object" if isinstance(value, dict) else "null")
        return f"must be {_EXPECTED[kind]}, not {given}"
    if kind in _OBJECT_EXPECTED:
        return "must be a JSON object"
    if kind == "list_type":
        return "must be a list"
    unit = "characters" if isinstance(value, str) else "items"
    if kind in ("too_short", "string_too_short") and "min_length" in ctx:
        return "must not be empty" if ctx["min_length"] == 1 else f"must have at least {ctx['min_length']} {unit}"
    if kind in ("too_long", "string_too_long") and "max_length" in ctx:
        return f"must have at most {ctx['max_length']} {unit}"
    for bound, words in _BOUNDS.items():
        if kind == bound and ctx:
            return f"must be {words} {next(iter(ctx.values()))}"
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def plain_errors(errors: Iterable[Mapping[str, Any]]) -> list[InitErrorDetails]:
    """Errors of a ValidationError, ready for `ValidationError.from_exception_data`, in plain words."""
    return [
        {
            "type": PydanticCustomError(str(e["type"]), plain_message(e)),
            "loc": tuple(e["loc"]),
            "input": e.get("input"),
        }
        for e in errors
    ]


# ----------------------------------------------------------------------------------------------------------
# Stored items (DynamoDB). Numbers are ints; see seatflow.store for keys.
