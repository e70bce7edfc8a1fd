"""Usernames for the new accounts of a batch, allocated together from one availability check in Moodle."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from seatflow.moodle import MoodleClient, UsernameRequest, allocate_usernames, candidates_to_check, taken_usernames
from seatflow.moodle.usernames import next_block_start

if TYPE_CHECKING:
    from .resolve import AccountRequest

# Each further check covers the next block of suffixes; a base with this many blocks taken is left unallocated.
MAX_CHECKS = 5


def allocate_free_usernames(
    moodle: MoodleClient,
    requests: Sequence[AccountRequest],
    preferred: Mapping[str, str],
    exclude: Collection[str] = (),
) -> dict[str, str]:
    """A free, distinct username for each request, by claimant; normally one ``get_users_by_field`` call.

    ``preferred`` names a username asked for before (a retry asks again for the same one, so a create that
    landed late is recognised); ``exclude`` names usernames not to hand out (one just refused).
    """
    pending = [
        UsernameRequest(
            key=r.claimant,
            firstname=r.person.firstname,
            lastname=r.person.lastname,
            email=r.person.email,
            preferred=preferred.get(r.claimant),
        )
        for r in requests
    ]
    allocated: dict[str, str] = {}
    checked: list[str] = []
    starts: dict[str, int] = {}
    for _ in range(MAX_CHECKS):
        if not pending:
            break
        block = [name for name in candidates_to_check(pending, starts) if name not in allocated.values()]
        taken = taken_usernames(moodle, block) | set(exclude) | set(allocated.values())
        checked.extend(block)
        found, pending = allocate_usernames(pending, block, taken)
        allocated.update(found)
        starts = next_block_start(pending, checked)
    return allocated
