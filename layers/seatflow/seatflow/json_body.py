"""A request body becomes JSON values only within bounds, or is refused with a JsonBodyError naming the problem.

Python's own parser crashes or stalls on hostile bodies: a RecursionError on arrays nested a thousand deep,
a ValueError on integers of more than 4,300 digits, strings holding lone surrogates (`"\\ud800"`) that any
later `.encode()` refuses. Every bound is checked before the work it protects:

- size (MAX_BODY_BYTES) before decoding;
- UTF-8, strictly, before parsing;
- nesting depth (MAX_DEPTH), counted on the raw text, before `json.loads` recurses;
- integer length (MAX_INT_DIGITS) while parsing, before `int()` converts; NaN and Infinity are not JSON;
- lone surrogates after parsing, naming the field that holds one.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# The largest order the model accepts, 5,000 participants with every field at its maximum length (ASCII),
# is about 4.2 MB; a typical one about 0.2 KB per participant. Lambda refuses events over 6 MB anyway.
MAX_BODY_BYTES = 5 * 1024 * 1024
# An order is 4 levels deep (body > participants > learners > person).
MAX_DEPTH = 32
# Enough for any 64-bit integer; `int()` gets slow (and then refuses) on thousands of digits.
MAX_INT_DIGITS = 20

# A string, or an unterminated one up to the end: this pattern never fails once it sees a quote, so it never
# backtracks and strips strings in linear time whatever the body.
_STRING = re.compile(r'"(?:[^"\\]++|\\.|\\\Z)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonBodyError(ValueError):
    """The body is refused: `message` says why, `field` where (`body`, or the path of a field)."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_order_json(raw: bytes) -> Any:
    """The JSON value of `raw`, or JsonBodyError. Never another exception."""
    if len(raw) > MAX_BODY_BYTES:
        raise JsonBodyError(f"the body is {len(raw):,} bytes: at most {MAX_BODY_BYTES:,}")
    if not raw.strip():
        raise JsonBodyError("the body is empty: send the order as a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonBodyError(f"the body is not UTF-8: byte 0x{raw[exc.start]:02x} at position {exc.start}") from None
    if nests_deeper_than(text, MAX_DEPTH):
        raise JsonBodyError(f"the body nests arrays and objects more than {MAX_DEPTH} levels deep")
    try:
        value = json.loads(text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
    except JsonBodyError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonBodyError(f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # belt and braces: the bounds above should make these unreachable
        raise JsonBodyError(f"the body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text):
        _refuse_lone_surrogates(value, "")
    return value


def nests_deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep, counting only brackets outside strings.

    Each pass removes the innermost pairs (`[]`, `{}`) of the brackets alone, so `limit` passes clear any
    text nested at most `limit` deep, and more than `limit` opening brackets in a row are too deep at once.
    Brackets left with no pair among them do not match: JSON refuses them with a syntax error, unless they
    open more than `limit` levels that it would recurse into first.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    opens_in_a_row = re.compile(rf"[\[{{]{{{limit + 1}}}")  # found at once in `[[[[...`, the usual attack
    for _ in range(limit):
        if opens_in_a_row.search(brackets):
            return True
        inner = brackets.replace("[]", "").replace("{}", "")
        if len(inner) == len(brackets):  # nothing left to pair (or nothing left at all)
            break
        brackets = inner
    else:
        if "[]" in brackets or "{}" in brackets:
            return True
    return brackets.count("[") + brackets.count("{") > limit


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonBodyError(f"a number has {len(digits.lstrip('-'))} digits: integers have at most {MAX_INT_DIGITS}")
    return int(digits)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonBodyError(f"the number {text[:40]} is too large")
    return value


def _no_constant(name: str) -> Any:
    raise JsonBodyError(f"{name} is not a JSON value")


def _refuse_lone_surrogates(value: Any, path: str) -> None:
    """A `\\ud800` escape without its pair parses into a str that cannot be encoded; name where it is."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise JsonBodyError(
                "contains a lone surrogate (\\ud800-\\udfff): text must be valid Unicode", path or "body"
            )
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_lone_surrogates(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                raise JsonBodyError(
                    "has a key with a lone surrogate (\\ud800-\\udfff): text must be valid Unicode", path or "body"
                )
            _refuse_lone_surrogates(item, f"{path}.{key}" if path else key)
