"""The ISO 14229-1 identification DIDs (0xF180-0xF19F) and their value codecs.

The numbers and meanings come from ISO 14229-1 Annex C; the codec is the usual one on
real ECUs (ASCII for part/version numbers, BCD for dates, raw bytes for fingerprints).
OEM DIDs and codec overrides come from the manifest (``bench.dids``).

udsoncan decodes DIDs through ``DidCodec`` objects that need a length; identification
values are variable-length, so :class:`RawDidCodec` hands udsoncan the remaining payload
and the text conversion happens here, which keeps the raw bytes for the evidence.
"""

from __future__ import annotations

from typing import Any

from udsoncan import DidCodec

from ..errors import BenchError
from ..manifest.model import Codec, DidSpec


class DidDecodeError(BenchError):
    """A DID value does not fit its codec (e.g. a BCD nibble above 9)."""


def _d(did: int, name: str, codec: Codec = Codec.ASCII) -> tuple[int, DidSpec]:
    return did, DidSpec(did, name, codec)


#: The identification DIDs F180-F19F by number.
STANDARD_DIDS: dict[int, DidSpec] = dict([
    _d(0xF180, "bootSoftwareIdentification"),
    _d(0xF181, "applicationSoftwareIdentification"),
    _d(0xF182, "applicationDataIdentification"),
    _d(0xF183, "bootSoftwareFingerprint", Codec.RAW),
    _d(0xF184, "applicationSoftwareFingerprint", Codec.RAW),
    _d(0xF185, "applicationDataFingerprint", Codec.RAW),
    _d(0xF186, "activeDiagnosticSession", Codec.RAW),
    _d(0xF187, "vehicleManufacturerSparePartNumber"),
    _d(0xF188, "vehicleManufacturerECUSoftwareNumber"),
    _d(0xF189, "vehicleManufacturerECUSoftwareVersionNumber"),
    _d(0xF18A, "systemSupplierIdentifier"),
    _d(0xF18B, "ECUManufacturingDate", Codec.BCD),
    _d(0xF18C, "ECUSerialNumber"),
    _d(0xF18D, "supportedFunctionalUnits", Codec.RAW),
    _d(0xF18E, "vehicleManufacturerKitAssemblyPartNumber"),
    _d(0xF18F, "regulationXSoftwareIdentificationNumbers"),  # RXSWIN (UN R156)
    _d(0xF190, "VIN"),
    _d(0xF191, "vehicleManufacturerECUHardwareNumber"),
    _d(0xF192, "systemSupplierECUHardwareNumber"),
    _d(0xF193, "systemSupplierECUHardwareVersionNumber"),
    _d(0xF194, "systemSupplierECUSoftwareNumber"),
    _d(0xF195, "systemSupplierECUSoftwareVersionNumber"),
    _d(0xF196, "exhaustRegulationOrTypeApprovalNumber"),
    _d(0xF197, "systemNameOrEngineType"),
    _d(0xF198, "repairShopCodeOrTesterSerialNumber"),
    _d(0xF199, "programmingDate", Codec.BCD),
    _d(0xF19A, "calibrationRepairShopCodeOrCalibrationEquipmentSerialNumber"),
    _d(0xF19B, "calibrationDate", Codec.BCD),
    _d(0xF19C, "calibrationEquipmentSoftwareNumber"),
    _d(0xF19D, "ECUInstallationDate", Codec.BCD),
    _d(0xF19E, "ODXFile"),
    _d(0xF19F, "entityIdentification", Codec.RAW),
])

#: What ``discover`` reads from every responding ECU.
DISCOVERY_DIDS: tuple[int, ...] = (0xF190, 0xF187, 0xF189, 0xF18A, 0xF18C, 0xF191, 0xF195, 0xF197)

_ASCII_PAD = b"\x00\xff "


def decode(codec: Codec, data: bytes) -> str:
    """Turn a DID's bytes into the text compared with the expectation.

    Non-printable bytes inside ASCII are shown as ``\\xNN`` so they can never compare equal to
    a clean expectation by accident.

    >>> decode(Codec.ASCII, b"2.4.1\\x00\\x00")
    '2.4.1'
    >>> decode(Codec.BCD, bytes([0x20, 0x26, 0x01, 0x31]))
    '20260131'
    >>> decode(Codec.RAW, b"\\x01\\xab")
    '01ab'
    """
    if codec is Codec.RAW:
        return data.hex()
    if codec is Codec.UINT:
        if not data or len(data) > 16:
            raise DidDecodeError(f"{len(data)} bytes is not an unsigned integer of 1..16 bytes")
        return str(int.from_bytes(data, "big"))
    if codec is Codec.BCD:
        digits = []
        for byte in data:
            hi, lo = byte >> 4, byte & 0xF
            if hi > 9 or lo > 9:
                raise DidDecodeError(f"byte {byte:#04x} is not packed BCD")
            digits.append(f"{hi}{lo}")
        return "".join(digits)
    text = data.rstrip(_ASCII_PAD)
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in text)


def encode(codec: Codec, text: str) -> bytes:
    """The bytes an ECU sends for ``text`` (used by the simulator).

    >>> encode(Codec.BCD, "2026")
    b' &'
    >>> decode(Codec.ASCII, encode(Codec.ASCII, "SN-1"))
    'SN-1'
    >>> encode(Codec.ASCII, "Ü")
    b'\\xc3\\x9c'
    """
    if codec is Codec.RAW:
        try:
            return bytes.fromhex(text)
        except ValueError as exc:
            raise DidDecodeError(f"{text!r} is not hex") from exc
    if codec is Codec.UINT:
        value = int(text)
        return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    if codec is Codec.BCD:
        if len(text) % 2 or (text and not text.isdigit()):
            raise DidDecodeError(f"{text!r} is not an even number of decimal digits")
        return bytes(int(text[i]) << 4 | int(text[i + 1]) for i in range(0, len(text), 2))
    # ASCII DIDs: text outside ASCII is sent as the UTF-8 bytes an ECU storing it would hold (the
    # reader shows them as \xNN escapes), never a reason for the simulated ECU to fall silent
    return text.encode("utf-8")


def normalize_expected(codec: Codec, text: str) -> str:
    """An expectation in the form :func:`decode` produces (hex lower-cased, ASCII padding stripped)."""
    if codec is Codec.RAW:
        return text.replace(" ", "").replace(":", "").lower()
    if codec is Codec.ASCII:
        return text.rstrip(" ")
    return text


def parse_did(key: object) -> int:
    """A DID from a manifest key: ``F189``, ``0xF189``, ``"f189"`` or the integer 61833.

    >>> parse_did("F189"), parse_did("0xf18c"), parse_did(0xF190)
    (61833, 61836, 61840)
    """
    if isinstance(key, bool):
        raise BenchError(f"DID {key!r} is not a number")
    if isinstance(key, int):
        value = key
    else:
        text = str(key).strip().lower().removeprefix("0x").removeprefix("did:")
        try:
            value = int(text, 16)
        except ValueError:
            raise BenchError(f"DID {key!r} is not a hexadecimal number") from None
    if not 0 <= value <= 0xFFFF:
        raise BenchError(f"DID {key!r} is outside 0x0000-0xFFFF")
    return value


class RawDidCodec(DidCodec):
    """udsoncan codec that returns the DID's bytes unchanged (all the remaining payload)."""

    def encode(self, *did_value: Any) -> bytes:
        """Never used: the bench only reads."""
        raise BenchError("the bench never writes DIDs")

    def decode(self, did_payload: bytes) -> Any:
        """The payload as-is."""
        return bytes(did_payload)

    def __len__(self) -> int:
        raise DidCodec.ReadAllRemainingData
