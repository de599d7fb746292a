"""Fixtures for bench tests: a unique python-can virtual channel per test, short timeouts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import can
import pytest

from ecuscan.bench.records import BenchOptions

#: Short timeouts so fault tests stay fast; P2* is long enough for the 0x78 chains used here.
FAST = BenchOptions(p2=0.25, p2_star=1.0, request_timeout=3.0, isotp_timeout_ms=200)


@pytest.fixture
def channel() -> str:
    return f"ecuscan-test-{uuid.uuid4().hex}"


@pytest.fixture
def buses(channel: str) -> Iterator[tuple[can.BusABC, can.BusABC]]:
    """(tester bus, simulator bus) on the same virtual channel."""
    tester = can.Bus(interface="virtual", channel=channel)
    ecu = can.Bus(interface="virtual", channel=channel)
    yield tester, ecu
    tester.shutdown()
    ecu.shutdown()
