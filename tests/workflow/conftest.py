"""Fixtures of the lifecycle's workflow tests: a local runtime, and a shop that posts to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from seatflow_local.runtime import LocalRuntime
from tests.fixtures.lifecycle import Shop


@pytest.fixture
def rt() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture
def shop(rt: LocalRuntime) -> Shop:
    return Shop(rt)
