"""Fixtures of the workflow tests: a local runtime, the sample order, and a shop that posts to the runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seatflow_local.runtime import LocalRuntime
from tests.fixtures.lifecycle import Shop

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def rt() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture
def shop(rt: LocalRuntime) -> Shop:
    return Shop(rt)


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime() as rt:
        yield rt


@pytest.fixture
def sample_order() -> dict[str, Any]:
    return json.loads((EVENTS / "order_spocm1.json").read_text(encoding="utf-8"))
