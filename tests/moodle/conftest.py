"""pytest plugin for tests/moodle: the workflow against a real Moodle (the peer of ../shared/moodle-peer).

Without a configured peer (MOODLE_PG and MOODLE_PEER_DIR unset, as in CI) every test here is skipped with one
clear message. With one, each test starts from the peer's fixture (reset.sh) and its own local runtime.

Fixtures
    peer        the peer's settings, read from the environment env.sh exports
    moodle_db   the peer reset to its fixture; MoodleDb queries on its database and mails
    runtime     a LocalRuntime whose Moodle is the peer (moto for AWS, handlers in-process)
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.moodle.moodle_db import MoodleDb

HERE = Path(__file__).resolve().parent
PEER_LOCK = "seatflow-peer.lock"  # in MOODLE_PEER_DIR
NO_PEER = (
    "no Moodle peer configured: install ../shared/moodle-peer and export its env "
    '(eval "$(bash ../shared/moodle-peer/env.sh)")'
)


@dataclass(frozen=True)
class Peer:
    url: str
    token: str
    role_ids: dict[str, int]
    pg: str
    peer_dir: Path
    mail_dir: Path

    @classmethod
    def from_environment(cls) -> Peer | None:
        env = os.environ
        if not (env.get("MOODLE_PG") and env.get("MOODLE_PEER_DIR")):
            return None
        peer_dir = Path(env["MOODLE_PEER_DIR"])
        return cls(
            url=env.get("MOODLE_URL", ""),
            token=env.get("MOODLE_TOKEN", ""),
            role_ids=json.loads(env.get("MOODLE_ROLE_IDS") or "{}"),
            pg=env["MOODLE_PG"],
            peer_dir=peer_dir,
            mail_dir=Path(env.get("MOODLE_MAIL_DIR") or peer_dir / "mail"),
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A conftest's collection hook sees the whole session's items: mark only this directory's.
    if Peer.from_environment() is not None:
        return
    skip = pytest.mark.skip(reason=NO_PEER)
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def peer() -> Iterator[Peer]:
    found = Peer.from_environment()
    if found is None:
        pytest.skip(NO_PEER)
    missing = [name for name in ("MOODLE_URL", "MOODLE_TOKEN") if not os.environ.get(name)]
    if missing:
        pytest.fail(f"Moodle peer half configured: {', '.join(missing)} unset (eval the peer's env.sh)")
    # One peer, several worktrees: a reset from another run would drop the database under this one's feet.
    # `make bench-moodle` takes the same lock; anything that resets the peer without it can still interfere.
    with (found.peer_dir / PEER_LOCK).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield found


def reset_peer(peer: Peer) -> None:
    """Back to the fixture: database, Moodle caches and caught mails (about 1-5 s)."""
    done = subprocess.run(
        ["bash", str(peer.peer_dir / "scripts" / "reset.sh")], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(f"reset.sh failed ({done.returncode}):\n{done.stderr[-2000:]}")


@pytest.fixture
def moodle_db(peer: Peer) -> MoodleDb:
    reset_peer(peer)
    return MoodleDb(peer.pg, peer.mail_dir)


@pytest.fixture
def runtime(peer: Peer, moodle_db: MoodleDb) -> Iterator[object]:
    from seatflow_local.runtime import LocalRuntime

    # Role ids passed explicitly: LocalRuntime's stack would otherwise give the functions an empty map.
    with LocalRuntime(moodle_url=peer.url, moodle_token=peer.token, role_ids=dict(peer.role_ids)) as rt:
        yield rt
