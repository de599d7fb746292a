"""``ecuscan discover``: find the ECUs that answer and print their identification."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from ..bench.dids import STANDARD_DIDS
from ..bench.discover import default_range, discover
from ..bench.records import Addressing, BenchOptions
from .busopts import bus_from_options, bus_options
from .common import EXIT_OK, handle_errors, json_option, out, print_json, safe


def _range(text: str | None, addressing: Addressing) -> list[int]:
    if text is None:
        return list(default_range(addressing))
    if text.strip().lower() == "none":
        return []
    lo, sep, hi = text.partition("-")
    try:
        start, end = int(lo, 0), int(hi, 0) if sep else int(lo, 0)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not FIRST-LAST", param_hint="--range") from None
    if end < start:
        raise click.BadParameter("range end is below its start", param_hint="--range")
    return list(range(start, end + 1))


@click.command("discover")
@bus_options
@json_option
@click.option("--29bit", "extended", is_flag=True, help="29-bit normal-fixed addressing (functional 0x18DB33F1).")
@click.option("--range", "probe", default=None, metavar="FIRST-LAST",
              help="Physical probe range: request ids (11-bit, default 0x7E0-0x7E7) or ECU addresses "
                   "(29-bit, default 0x00-0xFF); 'none' skips physical probing.")
@click.option("--no-functional", is_flag=True, help="Skip the functional TesterPresent.")
@click.option("--window", type=float, default=0.3, show_default=True, help="Seconds to wait for answers.")
@click.option("--p2", type=float, default=1.0, show_default=True, help="P2 timeout for identification reads (s).")
@handle_errors
def command(as_json: bool, extended: bool, probe: str | None, no_functional: bool, window: float, p2: float,
            **bus: Any) -> None:
    """Find responding ECUs (functional, then physical TesterPresent) and read their identification DIDs."""
    addressing = Addressing.NORMAL_FIXED_29BIT if extended else Addressing.NORMAL_11BIT
    can_bus = bus_from_options(**bus)
    try:
        found = discover(can_bus, addressing=addressing, options=BenchOptions(p2=p2, obd=False),
                         probe=_range(probe, addressing), functional=not no_functional, window=window)
    finally:
        can_bus.shutdown()
    if as_json:
        print_json({"schema": "ecuscan/discover/v1", "ecus": [
            {"tx_id": hex(e.tx_id), "rx_id": hex(e.rx_id), "addressing": e.addressing.value, "found_by": e.found_by,
             "identification": {f"{k:04X}": v for k, v in e.identification().items()},
             "checks": [c.to_dict() for c in e.checks]} for e in found]})
        raise SystemExit(EXIT_OK)
    if not found:
        out.print("no ECU answered")
    for e in found:
        out.print(f"[bold]{e.name}[/] request {e.tx_id:#x} response {e.rx_id:#x} ({e.found_by})")
        table = Table(show_edge=False, pad_edge=False, box=None)
        for col in ("DID", "name", "value"):
            table.add_column(col)
        for c in e.checks:
            o = c.observation
            spec = STANDARD_DIDS.get(o.item)
            table.add_row(o.label, spec.name if spec else "", safe(o.value if o.value is not None else o.detail, 80))
        out.print(table)
    raise SystemExit(EXIT_OK)
