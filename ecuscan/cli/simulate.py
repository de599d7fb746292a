"""``ecuscan simulate MANIFEST``: virtual ECUs answering from the manifest (the demo's bench)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import click

from ..bench.busmodel import BusModel
from ..bench.simulator import Simulator
from ..bench.targets import load_targets
from ..errors import BenchError
from .busopts import bus_from_options, bus_options
from .common import EXIT_OK, err, handle_errors, safe


@click.command("simulate")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False))
@bus_options
@click.option("--duration", type=float, default=None, help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--background", type=float, default=0.0, help="Random background traffic as a bus-load fraction (0-1).")
@click.option("--bus-model", "model", is_flag=True,
              help="Release frames at the pace of a 500 kbit/s bus (worst-case stuffed frame lengths).")
@click.option("--response-delay", type=float, default=None, help="Seconds every ECU waits before answering.")
@handle_errors
def command(manifest: str, duration: float | None, background: float, model: bool, response_delay: float | None,
            **bus: Any) -> None:
    """Run the ECUs of MANIFEST (identification DIDs, OBD mode 09, memory reads) with the faults
    given in each ECU's ``bench.simulate.faults`` (silent, nrc, pending, delay, drift, truncate ...)."""

    _, specs = load_targets(manifest)
    if not specs:
        raise BenchError("no ECU with a bench section to simulate", source=manifest)
    if response_delay is not None:
        specs = [dataclasses.replace(s, response_delay=response_delay) for s in specs]
    can_bus = bus_from_options(**bus)
    try:
        with Simulator(specs, can_bus, bus_model=BusModel() if model else None, background=background):
            names = ", ".join(f"{safe(s.target.ecu_id, 40)}@{s.target.tx_id:#x}" for s in specs)
            err.print(f"simulating {len(specs)} ECU(s) on {safe(can_bus.channel_info)}: {names}")
            deadline = None if duration is None else time.monotonic() + duration
            try:
                while deadline is None or time.monotonic() < deadline:
                    time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
            except KeyboardInterrupt:
                pass
    finally:
        can_bus.shutdown()
    raise SystemExit(EXIT_OK)
