"""Usernames Moodle accepts, derived from a person's name: ``jean.dupont``, ``jean.dupont1``, ..."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

MAX_LENGTH = 100
# Letters NFKD does not decompose into ASCII.
_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "Æ": "ae",
        "Œ": "oe",
        "Ø": "o",
        "Ł": "l",
        "Đ": "d",
        "Ð": "d",
        "Þ": "th",
        "ẞ": "ss",
    }
)
_APOSTROPHES = re.compile(r"['’ʼ‘`´]")
_REFUSED = re.compile(r"[^a-z0-9_.@-]")  # Moodle's PARAM_USERNAME keeps only these
_REPEATS = re.compile(r"([._@-])[._@-]+")


def _fold(text: str) -> str:
    text = text.translate(_SPECIAL)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def _part(text: str) -> str:
    text = _APOSTROPHES.sub("", _fold(text.strip()))
    text = re.sub(r"\s+", "-", text)
    text = _REFUSED.sub("", text)
    return _REPEATS.sub(r"\1", text).strip("._@-")


def username_base(firstname: str, lastname: str) -> str:
    """``Jean``, ``Dupont`` -> ``jean.dupont``; ``""``, ``""`` -> ``user``."""
    parts = [p for p in (_part(firstname or ""), _part(lastname or "")) if p]
    base = _REPEATS.sub(r"\1", ".".join(parts)).strip("._@-")
    return base[:MAX_LENGTH].strip("._@-") or "user"


def username_candidates(firstname: str, lastname: str) -> Iterator[str]:
    """Yield ``base``, ``base1``, ``base2``, ... (each at most 100 characters, endless)."""
    base = username_base(firstname, lastname)
    yield base
    n = 1
    while True:
        suffix = str(n)
        yield base[: MAX_LENGTH - len(suffix)] + suffix
        n += 1
