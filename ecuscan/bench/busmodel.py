"""A bus-time model: each frame occupies one shared bus for its worst-case (bit-stuffed) length.

A virtual python-can bus delivers frames instantly; a real 500 kbit/s bus does not. The
simulator charges every frame it sees or sends to one shared timeline, so the time a bench
run takes on the virtual bus is comparable with a real bus. Arbitration by priority is not
modelled (frames are served in the order they are offered).

Worst-case lengths (ISO 11898-1, stuff bits every 4 bits of the stuffed region in the worst case),
including the 3-bit interframe space:

* classic, 11-bit id: ``47 + 8n + floor((34 + 8n - 1) / 4)`` bits (135 bits for 8 bytes)
* classic, 29-bit id: ``67 + 8n + floor((54 + 8n - 1) / 4)`` bits (160 bits for 8 bytes)
* CAN FD: arbitration phase at the nominal rate, data phase (data, CRC, fixed stuff bits) at the
  data rate when bit-rate switching is on. An approximation (stuff-count and CRC sizes by length).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import can


def frame_bits(data_len: int, extended: bool) -> int:
    """Worst-case stuffed length of a classic CAN data frame in bits (with interframe space).

    >>> frame_bits(8, False), frame_bits(8, True)
    (135, 160)
    """
    if extended:
        return 67 + 8 * data_len + (54 + 8 * data_len - 1) // 4
    return 47 + 8 * data_len + (34 + 8 * data_len - 1) // 4


def fd_frame_time(data_len: int, extended: bool, bitrate: int, data_bitrate: int, brs: bool) -> float:
    """Approximate worst-case duration (s) of a CAN FD frame."""
    arb = (33 if extended else 14) + 3  # SOF..BRS incl. IDE/SRR/FDF/res, and interframe space
    arb = arb + arb // 4
    crc = 17 if data_len <= 16 else 21
    data = 4 + 8 * data_len + crc + 5 + 1  # ESI, DLC, data, CRC, stuff count, CRC delimiter
    data = data + data // 4 + crc // 4
    tail = 2 + 7  # ACK slot/delimiter, EOF
    rate = data_bitrate if brs else bitrate
    return (arb + tail) / bitrate + data / rate


@dataclass
class BusModel:
    """One shared bus timeline (thread-safe)."""

    bitrate: int = 500_000
    data_bitrate: int = 2_000_000

    def __post_init__(self) -> None:
        self._free_at = 0.0
        self._busy = 0.0
        self._frames = 0
        self._lock = threading.Lock()

    def duration(self, msg: can.Message) -> float:
        """Seconds ``msg`` occupies the bus."""
        if msg.is_fd:
            return fd_frame_time(len(msg.data), msg.is_extended_id, self.bitrate, self.data_bitrate,
                                 msg.bitrate_switch)
        return frame_bits(len(msg.data), msg.is_extended_id) / self.bitrate

    def occupy(self, msg: can.Message, earliest: float) -> float:
        """Charge ``msg`` to the bus no earlier than ``earliest``; returns when its transmission ends."""
        d = self.duration(msg)
        with self._lock:
            start = max(earliest, self._free_at)
            self._free_at = start + d
            self._busy += d
            self._frames += 1
            return self._free_at

    @property
    def busy_seconds(self) -> float:
        """Total bus time charged so far (the lower bound of any run that sent these frames)."""
        return self._busy

    @property
    def frames(self) -> int:
        """Frames charged so far."""
        return self._frames

    def reset(self) -> None:
        """Forget the charged time (between benchmark rounds)."""
        with self._lock:
            self._free_at = self._busy = 0.0
            self._frames = 0
