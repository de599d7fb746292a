"""Bus options as python-can reads them, and CAN FD frame lengths as a DLC can state them."""

from __future__ import annotations

import click
import pytest

from ecuscan.bench.busconfig import parse_bus_kwargs
from ecuscan.bench.records import Addressing, BenchTarget
from ecuscan.bench.simulator import EcuSpec, _Ecu
from ecuscan.cli.busopts import parse_bus_kwargs as cli_parse


@pytest.mark.parametrize(("item", "value"), [
    ("port=29536", 29536), ("bitrate=-1", -1), ("timeout=0.5", 0.5), ("fd=false", False), ("fd=TRUE", True),
    ("fd=True", True), ("host=127.0.0.1", "127.0.0.1"), ("channel=can0", "can0"), ("app_name=", ""),
    ("serial=0x1F", 31), ("poll=None", None), ("name='a b'", "a b"),
    ("can_filters=[{'can_id': 0x7E8, 'can_mask': 0x7FF}]", [{"can_id": 0x7E8, "can_mask": 0x7FF}]),
])
def test_values_read_like_python_can_config(item: str, value: object) -> None:
    key = item.partition("=")[0]
    got = parse_bus_kwargs([item])
    assert got == {key: value}
    assert type(got[key]) is type(value)  # False is not 0, 1 is not True


def test_bad_items_are_refused_with_the_item_named() -> None:
    for item in ("novalue", "=1", " =x"):
        with pytest.raises(ValueError, match="is not KEY=VALUE"):
            parse_bus_kwargs([item])
        with pytest.raises(click.BadParameter, match="KEY=VALUE"):
            cli_parse((item,))


def _fd_length(n: int) -> int:
    """ISO 11898-1 CAN FD data lengths (DLC 9..15 = 12, 16, 20, 24, 32, 48, 64 bytes)."""
    return 8 if n <= 8 else next(size for size in (12, 16, 20, 24, 32, 48, 64) if size >= n)


@pytest.mark.parametrize("fd", [False, True])
def test_simulator_pads_frames_to_a_length_a_dlc_states(fd: bool) -> None:
    target = BenchTarget("e", 0x18DA10F1, 0x18DAF110, Addressing.NORMAL_FIXED_29BIT, fd=fd)
    ecu = _Ecu(EcuSpec(target), sim=None)  # type: ignore[arg-type]
    for n in range(1, 65 if fd else 9):
        msg = ecu.frame(bytes(range(n)))
        assert len(msg.data) == (_fd_length(n) if fd else 8), n
        assert bytes(msg.data[:n]) == bytes(range(n))
        assert set(msg.data[n:]) <= {EcuSpec(target).padding}
        assert msg.is_fd is fd and msg.arbitration_id == 0x18DAF110
