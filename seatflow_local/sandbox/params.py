"""Moodle's reading of web-service parameters: PHP's form-field arrays, then external_value's cleaning.

The parameters reach a web-service function as PHP would hand them over: nested dicts and lists of strings,
loosely typed by nature (``Params``). The helpers below check and convert them the way
external_api::validate_parameters does, raising ``invalidparameter`` where Moodle would.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid_parameter

Params = dict[str, Any]


def parse_form(pairs: list[tuple[str, str]]) -> Params:
    """``users[0][username]=x`` -> ``{"users": [{"username": "x"}]}`` (PHP's reading of form fields)."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        match = re.match(r"^([^\[]+)((?:\[[^\]]*\])*)$", name)
        if not match:
            continue
        keys = [match.group(1)] + re.findall(r"\[([^\]]*)\]", match.group(2))
        node: Any = root
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[keys[-1]] = value
    listed: Params = _listify(root)
    return listed


def _listify(node: Any) -> Any:
    """PHP arrays whose keys are all integers are lists: ``{"0": a, "1": b}`` -> ``[a, b]``."""
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and all(re.fullmatch(r"\d+", k) for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def as_int(value: Any) -> int:
    """A PARAM_INT value: an int, or a string of digits."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise invalid_parameter()


def as_bool(value: Any) -> bool:
    """A PARAM_BOOL value: 1/true or 0/false/empty."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true"):
        return True
    if text in ("0", "false", ""):
        return False
    raise invalid_parameter()


def items(params: Params, key: str, required: tuple[str, ...] = (), *, optional: bool = False) -> list[dict[str, Any]]:
    """An external_multiple_structure of single structures, each holding the ``required`` keys."""
    value = params.get(key)
    if value is None:
        if optional:
            return []
        raise invalid_parameter()
    if isinstance(value, dict) and not value:
        value = []
    if not isinstance(value, list):
        raise invalid_parameter()
    for item in value:
        if not isinstance(item, dict) or any(k not in item for k in required):
            raise invalid_parameter()
    return value


def clean_username(value: str) -> str:
    """PARAM_USERNAME's cleaning: a username is valid when cleaning leaves it unchanged."""
    return re.sub(r"[^-.@_a-z0-9]", "", value.strip().lower().replace(" ", ""))


_EMAIL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
    re.IGNORECASE,
)


def valid_email(value: str) -> bool:
    """Moodle's validate_email()."""
    return bool(_EMAIL.match(value)) and len(value) <= 254
