"""Opening the bus and writing/reading bus logs, all through python-can.

:func:`open_bus` passes only the options the user gave to ``can.Bus``; python-can then fills
the rest from its standard configuration (``~/can.conf`` or ``can.ini``, ``CAN_INTERFACE`` /
``CAN_CHANNEL`` / ``CAN_BITRATE`` / ``CAN_CONFIG``), so the same command runs on a virtual bus,
a socketcand server or real hardware. Logs are python-can's writers and readers, chosen by
suffix: ``.asc`` (Vector ASCII), ``.blf`` (Vector binary), ``.log`` (candump -L text).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import can

from ..errors import BenchError, BusUnavailable, LimitExceeded
from ..limits import DEFAULT_LIMITS, Limits

#: Log formats the bench writes and replays (python-can picks the writer/reader by suffix).
LOG_SUFFIXES = (".asc", ".blf", ".log")


def open_bus(interface: str | None = None, channel: str | int | None = None, bitrate: int | None = None,
             fd: bool = False, data_bitrate: int | None = None,
             extra: Mapping[str, Any] | None = None) -> can.BusABC:
    """A python-can bus from the options given; unset ones come from python-can's configuration."""
    kwargs: dict[str, Any] = dict(extra or {})
    if interface is not None:
        kwargs["interface"] = interface
    if channel is not None:
        kwargs["channel"] = channel
    if bitrate is not None:
        kwargs["bitrate"] = bitrate
    if fd:
        kwargs["fd"] = True
    if data_bitrate is not None:
        kwargs["data_bitrate"] = data_bitrate
    if "interface" not in kwargs and not _configured_interface():
        raise BenchError("no CAN interface given: pass -i/--interface (e.g. -i socketcan -c can0) or set "
                         "CAN_INTERFACE (python-can's configuration); verify and audit also run the built-in "
                         "simulator with --simulate or the manifest's bench: {simulate: true}")
    shown = ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items())) or "python-can defaults"
    try:
        return can.Bus(**kwargs)
    except can.CanInterfaceNotImplementedError as exc:
        if "Unknown interface type" in str(exc):
            raise BenchError(f"cannot open CAN bus ({shown}): {exc}; known interfaces: "
                             f"{', '.join(sorted(can.VALID_INTERFACES))}") from exc
        raise BusUnavailable(f"cannot open CAN bus ({shown}): {exc}") from exc
    except (can.CanError, ValueError, ImportError, NotImplementedError, OSError, TypeError) as exc:
        raise BusUnavailable(f"cannot open CAN bus ({shown}): {exc or type(exc).__name__}; check that the "
                             "adapter is connected, its driver installed and the interface up "
                             "(e.g. ip link set can0 up type can bitrate 500000)") from exc


def _configured_interface() -> bool:
    """True when python-can's own configuration (file or CAN_INTERFACE) names an interface."""
    try:
        return bool(can.util.load_config().get("interface"))
    except can.CanInterfaceNotImplementedError as exc:  # python-can's way to say "no interface configured"
        return 'type "None"' not in str(exc)
    except Exception:
        return True


def log_writer(path: str | Path) -> can.Listener:
    """A python-can writer for ``path`` (.asc, .blf or .log); add it to the Notifier, ``stop()`` it after."""
    p = Path(path)
    if p.suffix.lower() not in LOG_SUFFIXES:
        raise BenchError(f"bus log format must be one of {', '.join(LOG_SUFFIXES)}", source=str(p))
    try:
        writer: can.Listener = can.Logger(str(p))
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot write bus log: {exc}", source=str(p)) from exc
    return writer


def read_log(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[can.Message]:
    """Frames of a bus log in file order; at most ``limits.max_log_frames``; bad files raise BenchError."""
    p = Path(path)
    if p.suffix.lower() not in LOG_SUFFIXES:
        raise BenchError(f"bus log format must be one of {', '.join(LOG_SUFFIXES)}", source=str(p))
    if not p.is_file():
        raise BenchError("no such bus log", source=str(p))
    count = 0
    try:
        for msg in can.LogReader(str(p)):
            count += 1
            if count > limits.max_log_frames:
                raise LimitExceeded(f"more than {limits.max_log_frames} frames", source=str(p))
            yield msg
    except BenchError:
        raise
    except LimitExceeded:
        raise
    except Exception as exc:  # python-can's readers raise ValueError/struct.error/... on corrupt input
        raise BenchError(f"unreadable bus log after {count} frames: {type(exc).__name__}: {exc}",
                         source=str(p)) from exc
