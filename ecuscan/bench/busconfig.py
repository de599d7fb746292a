"""Which bus a bench run uses (a light module: no python-can import, so the CLI stays quick to start)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..manifest.model import BenchSettings


@dataclass(frozen=True)
class BusConfig:
    """Where the bench check talks: python-can options, or the simulator on a virtual bus."""

    interface: str | None = None
    channel: str | int | None = None
    bitrate: int | None = None
    fd: bool = False
    data_bitrate: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    simulate: bool = False

    @property
    def given(self) -> bool:
        """True when the user named an interface or channel."""
        return self.interface is not None or self.channel is not None or bool(self.extra)

    def describe(self) -> str:
        """``CAN interface socketcan channel can0`` or the simulator."""
        if self.simulate:
            return "built-in ECU simulator on a python-can virtual bus"
        return (f"CAN interface {self.interface or '(python-can configuration)'}"
                f" channel {self.channel if self.channel is not None else '(default)'}")


def choose_bus(cli: BusConfig | None, settings: BenchSettings) -> BusConfig:
    """The bus of a run: command-line options, else ``--simulate``, else the manifest's ``bench:`` section.

    >>> choose_bus(None, BenchSettings(simulate=True)).simulate
    True
    >>> choose_bus(BusConfig(interface="socketcan", channel="can0"), BenchSettings(simulate=True)).simulate
    False
    """
    cli = cli or BusConfig()
    if cli.given or cli.simulate:
        return cli
    if settings.simulate:
        return BusConfig(simulate=True)
    return BusConfig(interface=settings.interface, channel=settings.channel, bitrate=settings.bitrate,
                     fd=cli.fd, data_bitrate=cli.data_bitrate)


def parse_bus_kwargs(items: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``--bus-kwargs``) as extra ``can.Bus`` arguments.

    A value is read the way python-can reads its own configuration files
    (:func:`can.util.cast_from_string`: integers, decimals, ``true``/``false`` in any case), so
    ``fd=false`` is False as in ``can.ini``; what that leaves as text and is a Python literal
    (``0x7E8``, ``None``, a list of ``can_filters``) is that literal; anything else stays text.
    ``ValueError`` names an item that is not ``KEY=VALUE``.

    >>> parse_bus_kwargs(["port=29536", "host=127.0.0.1", "fd=false", "can_filters=[{'can_id': 0x7E8}]"])
    {'port': 29536, 'host': '127.0.0.1', 'fd': False, 'can_filters': [{'can_id': 2024}]}
    """
    # imported here: this module stays free of python-can so that the CLI starts quickly
    from can.util import cast_from_string

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not KEY=VALUE")
        parsed: Any = cast_from_string(value.strip())
        if isinstance(parsed, str):
            try:
                parsed = ast.literal_eval(value)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                parsed = value
        out[key.strip()] = parsed
    return out
