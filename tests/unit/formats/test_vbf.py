"""VBF reader/writer tests: round trip, hand-written headers, CRC and checksum mismatches."""

from __future__ import annotations

import struct
import zlib

import pytest

from ecuscan.errors import FormatError
from ecuscan.formats import detect, load
from ecuscan.formats.vbf import crc16_ccitt, load_vbf, write_vbf
from ecuscan.model import ImageFormat

HEADER = {"vbf_version": "2.6", "description": '{"Demo BCM application", "build 42"}',
          "sw_part_number": "32212345", "sw_version": "AB", "sw_part_type": "EXE",
          "ecu_address": "0x726", "erase": "{{0x08020000,0x00020000},{0x08040000,0x100}}"}
BLOCKS = [(0x08020000, bytes(range(200))), (0x08040000, b"\xde\xad\xbe\xef" * 8)]


def test_round_trip() -> None:
    blob = write_vbf(BLOCKS, HEADER)
    assert detect(blob) is ImageFormat.VBF
    img = load(blob, "app.vbf")
    assert img.format is ImageFormat.VBF and img.diagnostics == ()
    assert img.data == BLOCKS[0][1] + BLOCKS[1][1]
    assert [(s.address, s.offset, s.size) for s in img.segments] == [
        (0x08020000, 0, 200), (0x08040000, 200, 32)]
    m = img.metadata
    assert m["sw_part_number"] == "32212345" and m["sw_version"] == "AB" and m["sw_part_type"] == "EXE"
    assert m["ecu_address"] == "0x726" and m["vbf_version"] == "2.6"
    assert m["erase"] == "{{0x08020000,0x00020000},{0x08040000,0x100}}"
    assert m["description"] == '{"Demo BCM application","build 42"}'
    assert int(m["file_checksum"], 16) == zlib.crc32(blob[blob.index(b"}\x08") + 1:])
    # file_offset points at the block's data in the file
    seg = img.segments[1]
    assert blob[seg.file_offset:seg.file_offset + seg.size] == BLOCKS[1][1]


def test_hand_written_header_with_comments() -> None:
    data = b"\x01\x02\x03"
    binary = struct.pack(">II", 0x1000, 3) + data + struct.pack(">H", crc16_ccitt(data))
    header = (b'vbf_version = 2.2;\n\nheader {\n  /* multi\n line { comment } */\n'
              b'  description = { "a; b", "c \\"q\\"" };   // trailing } comment\n'
              b'  sw_part_number = "31432/10";\n  sw_part_type = SBL;\n  network = CAN_HS;\n'
              b'  call = 0x00000000;\n  verification_block_start = 0x1000;\n'
              b'  file_checksum = 0x%08X;\n}' % zlib.crc32(binary))
    img = load_vbf(header + binary, "sbl.vbf")
    assert img.diagnostics == ()
    assert img.metadata["sw_part_number"] == "31432/10"
    assert img.metadata["sw_part_type"] == "SBL" and img.metadata["network"] == "CAN_HS"
    assert img.metadata["description"] == '{"a; b","c \\"q\\""}'
    assert img.data == data and img.segments[0].address == 0x1000


def test_crc_mismatch_detected_but_loads() -> None:
    blob = bytearray(write_vbf(BLOCKS, HEADER))
    seg0 = load_vbf(bytes(blob), "x").segments[0]
    blob[seg0.file_offset + 10] ^= 0xFF  # corrupt one data byte of block 0
    img = load_vbf(bytes(blob), "bad.vbf")
    codes = [d.code for d in img.diagnostics]
    assert codes.count("vbf-block-crc") == 1 and "vbf-file-checksum" in codes
    assert "0x08020000" in next(d.message for d in img.diagnostics if d.code == "vbf-block-crc")
    assert len(img.segments) == 2


def test_truncated_block_is_diagnostic() -> None:
    blob = write_vbf(BLOCKS, HEADER)
    img = load_vbf(blob[:-10], "cut.vbf")
    assert len(img.segments) == 1
    assert "vbf-truncated" in [d.code for d in img.diagnostics]


@pytest.mark.parametrize("bad", [
    b"vbf_version = 2.6;\nheader { sw_part_number = \"1\";",  # never closed
    b"vbf_version = 2.6;\nheader { = 3; }",
    b"vbf_version = 2.6;\nheader { a = {1, 2; }",
    b"vbf_version = 2.6;\nheader { /* open comment ",
    b"vbf_version 2.6;",
])
def test_bad_header_is_format_error(bad: bytes) -> None:
    with pytest.raises(FormatError) as exc:
        load_vbf(bad, "broken.vbf")
    assert "broken.vbf" in str(exc.value)


def test_writer_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        write_vbf([(2**32, b"x")], {})
    with pytest.raises(ValueError):
        write_vbf([], {"bad key": "x"})
