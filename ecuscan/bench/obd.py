"""OBD-II service 0x09 (request vehicle information) over ISO 15765-4, written by hand.

udsoncan implements ISO 14229 (UDS) services only; SAE J1979 / ISO 15031-5 services such as
0x09 are not part of it, so the request bytes and the response layout are coded here.
The transport is still can-isotp (see :meth:`ecuscan.bench.client.EcuSession.read_obd`).

Response layout: ``49 <info type> <number of data items> <items...>``; item sizes are
VIN 17 bytes ASCII (0x02), CALID 16 bytes ASCII each (0x04), CVN 4 bytes each (0x06),
ECU name 20 bytes ASCII (0x0A).
"""

from __future__ import annotations

from ..errors import BenchError

VIN, CALID, CVN, ECU_NAME = 0x02, 0x04, 0x06, 0x0A

#: info type -> (name, item size in bytes, ascii?)
INFO_TYPES: dict[int, tuple[str, int, bool]] = {
    VIN: ("VIN", 17, True),
    CALID: ("CALID", 16, True),
    CVN: ("CVN", 4, False),
    ECU_NAME: ("ECUNAME", 20, True),
}
#: Most data items accepted in one response (J1979 allows up to 255; ECUs report a handful).
MAX_ITEMS = 32


class ObdDecodeError(BenchError):
    """An OBD mode 09 response does not have the layout of its info type."""


def request(info_type: int) -> bytes:
    """Request payload for ``info_type``.

    >>> request(VIN).hex()
    '0902'
    """
    if info_type not in INFO_TYPES:
        raise BenchError(f"OBD info type {info_type:#04x} is not one of VIN/CALID/CVN/ECU name")
    return bytes([0x09, info_type])


def _ascii(item: bytes) -> str:
    text = item.rstrip(b"\x00\xff ")
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in text)


def decode_response(info_type: int, data: bytes) -> str:
    """Text of a positive response; several items (CALIDs, CVNs) are joined with ``,``.

    >>> decode_response(CVN, bytes.fromhex("490602 11223344 a0b0c0d0"))
    '11223344,a0b0c0d0'
    >>> decode_response(VIN, bytes.fromhex("490201") + b"WVWZZZ1JZXW000001")
    'WVWZZZ1JZXW000001'
    """
    if info_type not in INFO_TYPES:
        raise ObdDecodeError(f"OBD info type {info_type:#04x} is not supported")
    if len(data) < 3 or data[0] != 0x49 or data[1] != info_type:
        raise ObdDecodeError(f"not a response to 09 {info_type:02X}: {data[:8].hex()}")
    name, size, is_ascii = INFO_TYPES[info_type]
    count, body = data[2], data[3:]
    if count == 0 or count > MAX_ITEMS:
        raise ObdDecodeError(f"{name}: {count} data items is out of range 1..{MAX_ITEMS}")
    if len(body) < count * size:
        raise ObdDecodeError(f"{name}: {count} items need {count * size} bytes, got {len(body)}")
    items = [body[i * size:(i + 1) * size] for i in range(count)]
    return ",".join(_ascii(it) if is_ascii else it.hex() for it in items)


def encode_response(info_type: int, text: str) -> bytes:
    """The response an ECU sends for ``text`` (simulator side); inverse of :func:`decode_response`.

    >>> decode_response(CALID, encode_response(CALID, "CAL-1,CAL-2"))
    'CAL-1,CAL-2'
    """
    name, size, is_ascii = INFO_TYPES[info_type]
    parts = text.split(",") if info_type in (CALID, CVN) else [text]
    body = b""
    for part in parts:
        raw = part.encode("ascii") if is_ascii else bytes.fromhex(part)
        if len(raw) > size:
            raise ObdDecodeError(f"{name} item {part!r} is longer than {size} bytes")
        body += raw.ljust(size, b"\x00")
    return bytes([0x49, info_type, len(parts)]) + body
