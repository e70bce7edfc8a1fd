"""Shared pytest plugins, and a suite that ignores the shell's Moodle settings."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.aws", "tests.fixtures.sandbox"]

MOODLE_SETTINGS = ("MOODLE_URL", "MOODLE_TOKEN", "MOODLE_ROLE_IDS")


@pytest.fixture(autouse=True)
def _sandbox_unless_on_the_peer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # With the peer's env exported (eval "$(bash env.sh)"), the local runtime would send every workflow test to
    # the real Moodle: only tests/moodle may talk to it, and it passes the peer's settings explicitly.
    if "tests/moodle/" not in str(request.node.path).replace("\\", "/"):
        for name in MOODLE_SETTINGS:
            monkeypatch.delenv(name, raising=False)
