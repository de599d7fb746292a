"""CAN identifiers and can-isotp transport parameters for a :class:`BenchTarget`.

11-bit normal addressing uses the identifiers as given (OBD convention: request 0x7E0+n,
response 0x7E8+n). 29-bit normal-fixed addressing (ISO 15765-2) puts the addresses in the
identifier: physical 0x18DA<target><source>, functional 0x18DB<target><source>; the tester
is usually 0xF1, so ECU 0x10 is requested on 0x18DA10F1 and answers on 0x18DAF110.
"""

from __future__ import annotations

from typing import Any

import isotp

from ..errors import BenchError
from .records import Addressing, BenchOptions, BenchTarget

TESTER_ADDRESS = 0xF1
FUNCTIONAL_11BIT = 0x7DF
FUNCTIONAL_29BIT = 0x18DB33F1


def normal_fixed_ids(ecu_address: int, tester: int = TESTER_ADDRESS) -> tuple[int, int]:
    """(request id, response id) of an ECU under 29-bit normal-fixed addressing.

    >>> [hex(i) for i in normal_fixed_ids(0x10)]
    ['0x18da10f1', '0x18daf110']
    """
    if not (0 <= ecu_address <= 0xFF and 0 <= tester <= 0xFF):
        raise BenchError(f"29-bit addresses must be 0..255, got ECU {ecu_address} tester {tester}")
    return 0x18DA0000 | ecu_address << 8 | tester, 0x18DA0000 | tester << 8 | ecu_address


def response_id_for(request_id: int, addressing: Addressing) -> int:
    """The usual response identifier for a physical request identifier.

    >>> hex(response_id_for(0x7E0, Addressing.NORMAL_11BIT))
    '0x7e8'
    >>> hex(response_id_for(0x18DA10F1, Addressing.NORMAL_FIXED_29BIT))
    '0x18daf110'
    """
    if addressing is Addressing.NORMAL_11BIT:
        return request_id + 8
    if request_id >> 16 != 0x18DA:
        raise BenchError(f"{request_id:#x} is not a 29-bit normal-fixed physical identifier (0x18DAxxxx)")
    return 0x18DA0000 | (request_id & 0xFF) << 8 | (request_id >> 8) & 0xFF


def isotp_address(target: BenchTarget) -> isotp.Address:
    """The can-isotp address of the tester side for ``target``.

    The identifiers are given explicitly (``Normal_29bits``) even for normal-fixed targets: the
    frames are identical and the manifest may use a tester address other than 0xF1.
    """
    mode = (isotp.AddressingMode.Normal_29bits if target.addressing.extended
            else isotp.AddressingMode.Normal_11bits)
    return isotp.Address(mode, txid=target.tx_id, rxid=target.rx_id)


def isotp_params(target: BenchTarget, options: BenchOptions) -> dict[str, Any]:
    """can-isotp parameters: padding, STmin, block size, FD, timeouts and payload bound."""
    fd = target.fd or options.fd
    padding = target.padding if target.padding is not None else options.padding
    return {
        "stmin": options.stmin,
        "blocksize": options.blocksize,
        "tx_padding": padding,
        "tx_data_length": 64 if fd else 8,
        "tx_data_min_length": 8 if padding is not None else None,
        "can_fd": fd,
        "bitrate_switch": fd,
        "rx_flowcontrol_timeout": options.isotp_timeout_ms,
        "rx_consecutive_frame_timeout": options.isotp_timeout_ms,
        "wftmax": options.wftmax,
        "max_frame_size": options.max_payload,
        "blocking_send": False,
        "logger_name": "ecuscan.bench.isotp",
    }
