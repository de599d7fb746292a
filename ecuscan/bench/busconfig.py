"""Which bus a bench run uses (a light module: no python-can import, so the CLI stays quick to start)."""

from __future__ import annotations

from collections.abc import Mapping
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
