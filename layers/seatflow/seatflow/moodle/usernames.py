"""Usernames people recognise, in the form Moodle accepts: ``jean.dupont``, ``dmitriy.ivanov``, ``jean.dupont1``.

Names in any script are transliterated (anyascii: 王小明 -> ``wang.xiaoming``); a name that leaves nothing
usable falls back to the email's local part, then to ``user``. Suffixes are allocated for a whole batch from
one availability check, so namesakes in one batch never compete for the same name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from anyascii import anyascii

MAX_LENGTH = 100
# Suffixes checked at once for each distinct base: enough for every namesake of a batch plus those that exist.
SUFFIXES_PER_CHECK = 10
_APOSTROPHES = re.compile(r"['’ʼ‘`´]")
_REFUSED = re.compile(r"[^a-z0-9_.@-]")  # Moodle's PARAM_USERNAME keeps only these
_REPEATS = re.compile(r"([._@-])[._@-]+")
_EDGES = "._@-"


def _part(text: str) -> str:
    text = anyascii(_APOSTROPHES.sub("", text.strip())).lower()
    text = _APOSTROPHES.sub("", text)  # anyascii turns some letters (Arabic ayn) into an apostrophe-like mark
    text = re.sub(r"\s+", "-", text.strip())
    text = _REFUSED.sub("", text)
    return _REPEATS.sub(r"\1", text).strip(_EDGES)


def username_base(firstname: str, lastname: str, email: str = "") -> str:
    """``Jean``, ``Dupont`` -> ``jean.dupont``; nothing usable in the name -> the email's local part -> ``user``."""
    parts = [p for p in (_part(firstname or ""), _part(lastname or "")) if p]
    base = _REPEATS.sub(r"\1", ".".join(parts)).strip(_EDGES)
    if not base and email:
        base = _part(email.rsplit("@", 1)[0].split("+", 1)[0])  # a "+tag" is not part of anyone's name
    return base[:MAX_LENGTH].strip(_EDGES) or "user"


def numbered(base: str, n: int) -> str:
    """The n-th candidate for ``base``: ``base`` itself for 0, then ``base1``, ``base2``... (at most 100 chars)."""
    if n == 0:
        return base
    suffix = str(n)
    return base[: MAX_LENGTH - len(suffix)] + suffix


def username_candidates(firstname: str, lastname: str, email: str = "") -> Iterator[str]:
    """Yield ``base``, ``base1``, ``base2``, ... (each at most 100 characters, endless)."""
    base = username_base(firstname, lastname, email)
    n = 0
    while True:
        yield numbered(base, n)
        n += 1


@dataclass(frozen=True)
class UsernameRequest:
    """Who needs a username: ``key`` identifies the person; ``preferred`` is a username asked for earlier (a retry
    asks Moodle for the same name again, so a create that landed late is recognised as ours)."""

    key: str
    firstname: str
    lastname: str
    email: str = ""
    preferred: str | None = None


def candidates_to_check(requests: Sequence[UsernameRequest], start: Mapping[str, int] | None = None) -> list[str]:
    """The usernames one availability check should cover: for each distinct base, enough numbered candidates
    for every person sharing it, plus the preferred names."""
    wanted: dict[str, int] = {}
    for request in requests:
        base = username_base(request.firstname, request.lastname, request.email)
        wanted[base] = wanted.get(base, 0) + 1
    names: dict[str, None] = {r.preferred: None for r in requests if r.preferred}
    for base, count in wanted.items():
        first = (start or {}).get(base, 0)
        for n in range(first, first + count + SUFFIXES_PER_CHECK - 1):
            names[numbered(base, n)] = None
    return list(names)


def allocate_usernames(
    requests: Sequence[UsernameRequest], checked: Iterable[str], taken: Iterable[str]
) -> tuple[dict[str, str], list[UsernameRequest]]:
    """Give each request a distinct username among ``checked`` that is not ``taken``, in request order.

    Returns the allocation and the requests left without one (all their checked candidates were taken): check
    the next block for those.
    """
    checked_set = set(checked)
    used = set(taken)
    allocated: dict[str, str] = {}
    left: list[UsernameRequest] = []
    for request in requests:
        if request.preferred and request.preferred in checked_set and request.preferred not in used:
            allocated[request.key] = request.preferred
            used.add(request.preferred)
            continue
        base = username_base(request.firstname, request.lastname, request.email)
        n = 0
        while numbered(base, n) in checked_set:
            name = numbered(base, n)
            if name not in used:
                allocated[request.key] = name
                used.add(name)
                break
            n += 1
        else:
            left.append(request)
    return allocated, left


def next_block_start(requests: Sequence[UsernameRequest], checked: Iterable[str]) -> dict[str, int]:
    """Where the next availability check of each base starts: after the highest suffix already checked."""
    checked_set = set(checked)
    starts: dict[str, int] = {}
    for request in requests:
        base = username_base(request.firstname, request.lastname, request.email)
        n = 0
        while numbered(base, n) in checked_set:
            n += 1
        starts[base] = n
    return starts
