"""Shared pytest plugins, a suite that ignores the shell's Moodle settings, and the Powertools environment the
template gives every function."""

from __future__ import annotations

import os

import pytest

from seatflow_local.template import load_template

# Powertools' Metrics reads its namespace and service when seatflow.observability is first imported, which is
# at collection: set them first, to the template's values, as Lambda does before any import.
_GLOBAL_ENV = load_template()["Globals"]["Function"]["Environment"]["Variables"]
for _name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
    os.environ.setdefault(_name, _GLOBAL_ENV[_name])

pytest_plugins = ["tests.fixtures.aws", "tests.fixtures.sandbox"]

MOODLE_SETTINGS = ("MOODLE_URL", "MOODLE_TOKEN", "MOODLE_ROLE_IDS")


@pytest.fixture(autouse=True)
def _sandbox_unless_on_the_peer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # With the peer's env exported (eval "$(bash env.sh)"), the local runtime would send every workflow test to
    # the real Moodle: only tests/moodle may talk to it, and it passes the peer's settings explicitly.
    if "tests/moodle/" not in str(request.node.path).replace("\\", "/"):
        for name in MOODLE_SETTINGS:
            monkeypatch.delenv(name, raising=False)
