"""Bus options shared by ``verify``, ``discover`` and ``simulate`` (python-can's own tool conventions).

``-i/--interface``, ``-c/--channel``, ``-b/--bitrate``, ``--fd``, ``--data-bitrate`` and
``--bus-kwargs KEY=VALUE`` (repeatable). Options not given are left to python-can's standard
configuration: its config file and ``CAN_INTERFACE`` / ``CAN_CHANNEL`` / ``CAN_BITRATE`` /
``CAN_CONFIG`` in the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import can
import click

from ..bench import busconfig
from ..bench.buslog import open_bus

F = TypeVar("F", bound=Callable[..., Any])


def bus_options(f: F) -> F:
    """Add the bus options to a click command (they arrive as ``bus_*`` keyword arguments)."""
    opts = [
        click.option("-i", "--interface", "bus_interface", default=None,
                     help="python-can interface (socketcan, pcan, vector, kvaser, slcan, socketcand, virtual ...)."),
        click.option("-c", "--channel", "bus_channel", default=None, help="Channel, e.g. can0 or PCAN_USBBUS1."),
        click.option("-b", "--bitrate", "bus_bitrate", type=int, default=None, help="Nominal bitrate in bit/s."),
        click.option("--fd", "bus_fd", is_flag=True, help="Open the bus in CAN FD mode."),
        click.option("--data-bitrate", "bus_data_bitrate", type=int, default=None,
                     help="CAN FD data-phase bitrate in bit/s."),
        click.option("--bus-kwargs", "bus_kwargs", multiple=True, metavar="KEY=VALUE",
                     help="Extra python-can Bus argument (repeatable), e.g. --bus-kwargs receive_own_messages=False."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def parse_bus_kwargs(items: tuple[str, ...]) -> dict[str, Any]:
    """``("a=1", "b=x")`` -> ``{"a": 1, "b": "x"}`` (see :func:`ecuscan.bench.busconfig.parse_bus_kwargs`).

    >>> parse_bus_kwargs(("port=29536", "host=127.0.0.1", "fd=True"))
    {'port': 29536, 'host': '127.0.0.1', 'fd': True}
    """
    try:
        return busconfig.parse_bus_kwargs(items)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bus-kwargs") from exc


def bus_from_options(bus_interface: str | None, bus_channel: str | None, bus_bitrate: int | None, bus_fd: bool,
                     bus_data_bitrate: int | None, bus_kwargs: tuple[str, ...]) -> can.BusABC:
    """Open the bus the options describe (BenchError when it cannot be opened)."""
    return open_bus(bus_interface, bus_channel, bus_bitrate, bus_fd, bus_data_bitrate, parse_bus_kwargs(bus_kwargs))
