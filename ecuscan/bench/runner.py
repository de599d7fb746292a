"""One bench run for ``verify`` and ``audit``: choose the bus, open it (or the simulator), verify.

Which bus (first that applies): bus options on the command line; ``--simulate``; the manifest's
top-level ``bench:`` section (``simulate: true``, or ``interface``/``channel``/``bitrate``);
python-can's own configuration (config file, ``CAN_INTERFACE`` ...). A bus that cannot be opened
raises :class:`~ecuscan.errors.BusUnavailable` (the run is INCOMPLETE); the bus log is created
only once the bus is open, so a failed run never leaves an empty log behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import can

from .busconfig import BusConfig, choose_bus
from .buslog import log_writer, open_bus
from .records import BenchOptions, BenchReport, BenchTarget
from .simulator import EcuSpec, Simulator
from .verify import BenchObserver, verify

__all__ = ["BusConfig", "choose_bus", "run_bench"]


def run_bench(targets: Sequence[BenchTarget], specs: Sequence[EcuSpec], bus: BusConfig, options: BenchOptions,
              *, log_path: str | Path | None = None, observer: BenchObserver | None = None) -> BenchReport:
    """Open the bus (or the simulator with ``specs`` on a virtual bus) and verify ``targets``.

    Raises :class:`~ecuscan.errors.BusUnavailable` when the bus cannot be opened, BenchError on
    a usage problem (no interface configured, unknown interface name).
    """
    wanted = {t.ecu_id for t in targets}
    if bus.simulate:
        channel = f"ecuscan-sim-{uuid.uuid4().hex}"
        with can.Bus(interface="virtual", channel=channel) as tester, \
                can.Bus(interface="virtual", channel=channel) as sim_bus, \
                Simulator([s for s in specs if s.target.ecu_id in wanted], sim_bus):
            return _verify_logged(targets, tester, options, log_path, observer)
    with open_bus(bus.interface, bus.channel, bus.bitrate, bus.fd, bus.data_bitrate, bus.extra) as real:
        return _verify_logged(targets, real, options, log_path, observer)


def _verify_logged(targets: Sequence[BenchTarget], bus: can.BusABC, options: BenchOptions,
                   log_path: str | Path | None, observer: BenchObserver | None) -> BenchReport:
    listeners = [log_writer(log_path)] if log_path else []
    try:
        return verify(targets, bus, options=options, observer=observer, listeners=listeners)
    finally:
        for listener in listeners:
            listener.stop()
