"""VBF, decision by decision: header tokens, lists, limits, blocks, CRCs, the file checksum, the writer.

Every file here is encoded by the test from the published layout (an ASCII header
``vbf_version = X; header { key = value; ... }`` followed by blocks of a big-endian 32-bit address,
a big-endian 32-bit length, the data and a big-endian CRC16-CCITT, poly 0x1021, init 0xFFFF, of
the data; ``file_checksum`` = CRC32 of the binary part). The CRC16 is computed bit by bit here,
not with the library call the reader uses.
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib
from dataclasses import replace

import pytest

from ecuscan.errors import FormatError, LimitExceeded
from ecuscan.formats import detect
from ecuscan.formats.vbf import MAX_HEADER_BYTES, crc16_ccitt, load_vbf, parse_vbf_header, write_vbf
from ecuscan.limits import DEFAULT_LIMITS
from ecuscan.model import ImageFormat, SegmentKind, Severity


def crc16(data: bytes) -> int:
    """CRC16-CCITT, bit by bit, from its definition."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def block(addr: int, data: bytes, crc: int | None = None) -> bytes:
    return struct.pack(">II", addr, len(data)) + data + struct.pack(">H", crc16(data) if crc is None else crc)


def vbf(header: str, *blocks: bytes, checksum: bool = True, version: str = "2.6") -> bytes:
    binary = b"".join(blocks)
    fields = header + (f" file_checksum = 0x{zlib.crc32(binary):08x};" if checksum else "")
    return f"vbf_version = {version};\nheader {{ {fields} }}".encode("latin-1") + binary


def fields_of(header: str) -> dict[str, str]:
    return parse_vbf_header(f"vbf_version = 2.6; header {{ {header} }}".encode("latin-1"), "t.vbf")[0]


# --- CRC16 ----------------------------------------------------------------------------------------------

def test_crc16_check_value_and_random_data() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1 == crc16(b"123456789")
    assert crc16_ccitt(b"") == 0xFFFF
    rnd = random.Random(7)
    for n in (1, 2, 31, 256, 1000):
        data = bytes(rnd.randrange(256) for _ in range(n))
        assert crc16_ccitt(data) == crc16(data)
        assert crc16_ccitt(memoryview(data)) == crc16(data)


# --- header tokens and values ---------------------------------------------------------------------------

def test_header_values_canonical_text() -> None:
    f = fields_of('a = "x\\"y\\\\z"; b = EXE; c = 0x7A1; d = {}; e = {1,}; g = { "s" , { 0x1 , 2 } };'
                  ' h = a/b; i = "/* not a comment */"; j = "// nor this";')
    assert f["a"] == 'x"y\\z'                         # a top-level string: unquoted, escapes resolved
    assert f["b"] == "EXE" and f["c"] == "0x7A1"
    assert f["d"] == "{}" and f["e"] == "{1}"         # an empty list; a trailing comma
    assert f["g"] == '{"s",{0x1,2}}'                  # strings inside lists keep their quotes
    assert f["h"] == "a/b"                            # a slash not starting a comment belongs to the word
    assert f["i"] == "/* not a comment */" and f["j"] == "// nor this"
    f = fields_of("X = X; XX = XX; k = a//c\n; m = x/*c*/; n = /;")
    assert f["X"] == "X" and f["XX"] == "XX"  # letters are words, whichever they are
    assert f["k"] == "a" and f["m"] == "x" and f["n"] == "/"  # comments end a word


def test_comments_and_white_space_anywhere() -> None:
    raw = (b"/* lead */ vbf_version // v\n = /* x */ 3.0 ;\r\n\theader\n{\n// c\nsw_part_number\n=\n\"1\"\n;"
           b"/* multi\nline */ erase = {/*a*/{0x0,//b\n0x10}};\n}")
    fields, end = parse_vbf_header(raw, "t.vbf")
    assert fields == {"vbf_version": "3.0", "sw_part_number": "1", "erase": "{{0x0,0x10}}"}
    assert end == len(raw)


def test_repeated_keys_are_joined_in_order() -> None:
    assert fields_of("k = 1; other = 2; k = {3}; k = \"4\";")["k"] == "1;{3};4"


def test_the_offset_is_the_first_byte_after_the_closing_brace() -> None:
    raw = b'vbf_version = 2.6; header { a = 1; }\x00\x01\x02'
    fields, end = parse_vbf_header(raw, "t.vbf")
    assert raw[end:] == b"\x00\x01\x02" and fields == {"vbf_version": "2.6", "a": "1"}
    # a latin-1 byte counts as one byte
    raw = b'vbf_version = 2.6; header { a = "\xe9t\xe9"; }BIN'
    fields, end = parse_vbf_header(raw, "t.vbf")
    assert raw[end:] == b"BIN" and fields["a"] == "\xe9t\xe9"


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "VBF header ends before its closing '}'"),
    (b"vbf_version = 2.6; header { a = 1;", "VBF header ends before its closing '}'"),
    (b"vbf_version = 2.6; header { a = 1; /* open", "unterminated comment at byte 35"),
    (b'vbf_version = 2.6; header { a = "open; }', "unexpected character '\"' in VBF header at byte 32"),
    (b"version = 2.6;", "expected 'vbf_version' in VBF header at byte 7, got 'version'"),
    (b"vbf_version 2.6;", "expected '=' in VBF header at byte 15, got '2.6'"),
    (b"vbf_version = 2.6 header {}", "expected ';' in VBF header at byte 24, got 'header'"),
    (b"vbf_version = 2.6; head {}", "expected 'header' in VBF header at byte 23, got 'head'"),
    (b"vbf_version = 2.6; header a", "expected '{' in VBF header at byte 27, got 'a'"),
    (b"vbf_version = 2.6; header { = 1; }", "expected a header field name at byte 29, got '='"),
    (b"vbf_version = 2.6; header { ; }", "expected a header field name at byte 29, got ';'"),
    (b"vbf_version = 2.6; header { { }", "expected a header field name at byte 29, got '{'"),
    (b"vbf_version = 2.6; header { , }", "expected a header field name at byte 29, got ','"),
    (b"vbf_version = 2.6; header { a 1; }", "expected '=' in VBF header at byte 31, got '1'"),
    (b"vbf_version = 2.6; header { a = 1 }", "expected ';' in VBF header at byte 35, got '}'"),
    (b"vbf_version = 2.6; header { a = ; }", "unexpected ';' in VBF header at byte 33"),
    (b"vbf_version = 2.6; header { a = = }", "unexpected '=' in VBF header at byte 33"),
    (b"vbf_version = 2.6; header { a = , }", "unexpected ',' in VBF header at byte 33"),
    (b"vbf_version = 2.6; header { a = {1 2}; }", "expected ',' or '}' in VBF header list at byte 36"),
    (b"vbf_version = 2.6; header { a = {1;}; }", "expected ',' or '}' in VBF header list at byte 35"),
    (b"vbf_version = 2.6; header { a = {,}; }", "unexpected ',' in VBF header at byte 34"),
    (b"vbf_version = 2.6 2.7;", "expected ';' in VBF header at byte 21, got '2.7'"),
    (b"vbf_version = 2.6; header { a = 1; \x01 }", "expected '=' in VBF header at byte 38, got '}'"),
])
def test_header_errors_name_the_problem_and_the_byte(raw: bytes, message: str) -> None:
    with pytest.raises(FormatError) as e:
        parse_vbf_header(raw, "bad.vbf")
    assert isinstance(e.value, FormatError) and not isinstance(e.value, LimitExceeded)
    assert (e.value.source, e.value.message) == ("bad.vbf", message)


def test_a_long_unexpected_word_is_cut_in_the_message() -> None:
    with pytest.raises(FormatError) as e:
        parse_vbf_header(b"x" * 100 + b" = 1;", "bad.vbf")
    assert "got '" + "x" * 39 in str(e.value) and "x" * 41 not in str(e.value)


def test_list_depth_is_bounded() -> None:
    limits = replace(DEFAULT_LIMITS, max_document_depth=3)
    ok = b"vbf_version = 2.6; header { a = {{{1}}}; }"
    assert parse_vbf_header(ok, "t.vbf", limits=limits)[0]["a"] == "{{{1}}}"
    deep = b"vbf_version = 2.6; header { a = {{{{1}}}}; }"
    with pytest.raises(LimitExceeded) as e:
        parse_vbf_header(deep, "t.vbf", limits=limits)
    assert (e.value.source, e.value.message) == ("t.vbf", "VBF header lists nest deeper than 3")
    with pytest.raises(LimitExceeded, match="deeper than 64"):
        parse_vbf_header(b"vbf_version = 2.6; header { a = " + b"{" * 65 + b"}" * 65 + b"; }", "t.vbf")
    assert parse_vbf_header(b"vbf_version = 2.6; header { a = " + b"{" * 64 + b"}" * 64 + b"; }",
                            "t.vbf")[0]["a"] == "{" * 64 + "}" * 64


def test_field_count_is_bounded() -> None:
    limits = replace(DEFAULT_LIMITS, max_document_items=3)
    three = b"vbf_version = 2.6; header { a = 1; b = 2; a = 3; }"
    assert parse_vbf_header(three, "t.vbf", limits=limits)[0] == {"vbf_version": "2.6", "a": "1;3", "b": "2"}
    four = b"vbf_version = 2.6; header { a = 1; b = 2; a = 3; c = 4; }"
    with pytest.raises(LimitExceeded) as e:
        parse_vbf_header(four, "t.vbf", limits=limits)
    assert (e.value.source, e.value.message) == ("t.vbf", "too many VBF header fields")
    with pytest.raises(LimitExceeded):   # the loader passes its limits to the header parser
        load_vbf(four, "t.vbf", limits=limits)
    with pytest.raises(LimitExceeded):
        load_vbf(b"vbf_version = 2.6; header { a = {{{{1}}}}; }", "t.vbf",
                 limits=replace(DEFAULT_LIMITS, max_document_depth=3))


def test_header_length_is_bounded() -> None:
    pad = b" " * (MAX_HEADER_BYTES - 40)
    inside = b"vbf_version = 2.6; header { a = 1; " + pad[:MAX_HEADER_BYTES - 40] + b"}"
    assert len(inside) < MAX_HEADER_BYTES
    assert parse_vbf_header(inside, "t.vbf")[1] == len(inside)
    outside = b"vbf_version = 2.6; header { a = 1; " + b" " * MAX_HEADER_BYTES + b"}"
    with pytest.raises(FormatError, match="ends before its closing"):
        parse_vbf_header(outside, "t.vbf")


# --- blocks ---------------------------------------------------------------------------------------------

def test_blocks_become_segments() -> None:
    b0, b1, b2 = bytes(range(256)) * 2, b"", b"\xaa" * 3
    raw = vbf('sw_part_number = "32212345"; sw_part_type = EXE;', block(0x08020000, b0), block(0xFFFFFFFF, b1),
              block(0x10, b2))
    img = load_vbf(raw, "app.vbf")
    assert img.format is ImageFormat.VBF and img.path == "app.vbf" and img.diagnostics == ()
    assert img.data == b0 + b1 + b2
    start = raw.index(b"}") + 1
    assert [(s.name, s.address, s.offset, s.size, s.file_offset, s.kind) for s in img.segments] == [
        ("block0", 0x08020000, 0, 512, start + 8, SegmentKind.OTHER),
        ("block1", 0xFFFFFFFF, 512, 0, start + 8 + 512 + 2 + 8, SegmentKind.OTHER),
        ("block2", 0x10, 512, 3, start + 8 + 512 + 2 + 8 + 2 + 8, SegmentKind.OTHER)]
    assert [s.sha256 for s in img.segments] == [hashlib.sha256(b).hexdigest() for b in (b0, b1, b2)]
    assert img.metadata == {"vbf_version": "2.6", "sw_part_number": "32212345", "sw_part_type": "EXE",
                            "file_checksum": f"0x{zlib.crc32(raw[start:]):08x}"}


def test_a_header_without_blocks() -> None:
    img = load_vbf(vbf("a = 1;"), "empty.vbf")
    assert img.segments == () and img.data == b"" and img.diagnostics == ()


def test_a_wrong_block_crc_is_an_error_diagnostic_and_the_block_still_loads() -> None:
    data = b"\x01\x02\x03\x04"
    good = crc16(data)
    raw = vbf("", block(0x100, b"ok"), block(0x08020000, data, crc=good ^ 0x8001))
    img = load_vbf(raw, "bad.vbf")
    (d,) = img.diagnostics
    assert d.code == "vbf-block-crc" and d.severity is Severity.ERROR
    assert d.message == f"block 1 at 0x08020000: CRC16 {good ^ 0x8001:#06x} stored, {good:#06x} computed"
    assert d.offset == raw.index(b"}") + 1 + 8 + 2 + 2
    assert img.data == b"ok" + data and len(img.segments) == 2


@pytest.mark.parametrize("stray", [1, 7])
def test_stray_bytes_after_the_last_block(stray: int) -> None:
    raw = vbf("", block(0x100, b"abc"), checksum=False) + b"\x00" * stray
    img = load_vbf(raw, "t.vbf")
    pos = len(raw) - stray
    trunc = [d for d in img.diagnostics if d.code == "vbf-truncated"]
    assert [(d.message, d.severity, d.offset) for d in trunc] == [
        (f"{stray} stray bytes after the last block at {pos:#x}", Severity.ERROR, pos)]
    assert img.data == b"abc"


def test_a_block_cut_by_the_end_of_the_file() -> None:
    whole = block(0x100, b"x" * 40)
    for cut in (1, 2, 3):   # the CRC or the data is missing
        raw = vbf("", block(0x200, b"ok"), checksum=False) + whole[:-cut]
        img = load_vbf(raw, "t.vbf")
        pos = raw.index(b"}") + 1 + 12
        trunc = [d for d in img.diagnostics if d.code == "vbf-truncated"]
        assert [(d.message, d.severity, d.offset) for d in trunc] == [
            (f"block at file offset {pos:#x} declares 40 bytes but only {40 - cut} remain", Severity.ERROR, pos)]
        assert img.data == b"ok" and len(img.segments) == 1
    # exactly eight bytes left: a block header with nothing after it
    raw = vbf("", checksum=False) + struct.pack(">II", 0, 0)
    (d,) = [d for d in load_vbf(raw, "t.vbf").diagnostics if d.code == "vbf-truncated"]
    assert d.message.endswith("declares 0 bytes but only -2 remain")


def test_decoded_size_and_block_count_are_bounded() -> None:
    raw = vbf("", block(0, b"a" * 10), block(0x100, b"b" * 6))
    at = replace(DEFAULT_LIMITS, max_decoded_bytes=16, max_segments=2)
    assert len(load_vbf(raw, "t.vbf", limits=at).segments) == 2
    with pytest.raises(LimitExceeded) as e:
        load_vbf(raw, "t.vbf", limits=replace(at, max_decoded_bytes=15))
    assert (e.value.source, e.value.message) == ("t.vbf", "VBF blocks exceed max_decoded_bytes=15")
    with pytest.raises(LimitExceeded) as e:
        load_vbf(raw, "t.vbf", limits=replace(at, max_segments=1))
    assert (e.value.source, e.value.message) == ("t.vbf", "more than max_segments=1 VBF blocks")
    with pytest.raises(LimitExceeded) as e:
        load_vbf(raw, "t.vbf", limits=replace(at, max_file_bytes=len(raw) - 1))
    assert e.value.source == "t.vbf" and "max_file_bytes" in e.value.message
    assert load_vbf(raw, "t.vbf", limits=replace(at, max_file_bytes=len(raw))).data == b"a" * 10 + b"b" * 6


# --- the file checksum ----------------------------------------------------------------------------------

def test_file_checksum_matches_mismatches_or_is_missing() -> None:
    blk = block(0x100, b"payload")
    crc = zlib.crc32(blk)
    assert load_vbf(vbf(f"file_checksum = 0x{crc:08X};", blk, checksum=False), "t.vbf").diagnostics == ()
    assert load_vbf(vbf(f"file_checksum = {crc};", blk, checksum=False), "t.vbf").diagnostics == ()  # decimal
    (d,) = load_vbf(vbf(f"file_checksum = 0x{crc ^ 1:08X};", blk, checksum=False), "t.vbf").diagnostics
    assert (d.code, d.severity) == ("vbf-file-checksum", Severity.ERROR)
    assert d.message == f"file_checksum {crc ^ 1:#010x} stored, {crc:#010x} computed over the binary part"
    (d,) = load_vbf(vbf('file_checksum = "0xZZ";', blk, checksum=False), "t.vbf").diagnostics
    assert (d.code, d.message) == ("vbf-file-checksum", "file_checksum '0xZZ' is not a number")
    (d,) = load_vbf(vbf('file_checksum = "' + "Z" * 60 + '";', blk, checksum=False), "t.vbf").diagnostics
    assert "Z" * 40 in d.message and "Z" * 41 not in d.message  # the text is cut at 40 characters
    assert d.severity is Severity.WARNING
    (d,) = load_vbf(vbf("", blk, checksum=False), "t.vbf").diagnostics
    assert (d.code, d.message, d.severity) == ("vbf-file-checksum", "header has no file_checksum", Severity.INFO)


def test_the_file_checksum_covers_stray_bytes_too() -> None:
    blk = block(0x100, b"payload")
    raw = vbf(f"file_checksum = 0x{zlib.crc32(blk + b'zz'):08X};", blk, checksum=False) + b"zz"
    assert [d.code for d in load_vbf(raw, "t.vbf").diagnostics] == ["vbf-truncated"]


def test_metadata_is_printable_and_cut() -> None:
    img = load_vbf(vbf('a = "' + "y" * 1200 + '"; b = "x\x07y";'), "t.vbf")
    assert img.metadata["a"] == "y" * 1000 + "\u2026"
    assert img.metadata["b"] == "x\\x07y"


# --- the writer -----------------------------------------------------------------------------------------

def test_writer_bytes_follow_the_layout() -> None:
    blob = write_vbf([(0x08020000, b"\x01\x02"), (0x10, b"")], {
        "sw_part_number": "32212345", "sw_part_type": "EXE", "ecu_address": "0x7A1",
        "erase": "{{0x08020000,0x2}}", "description": '"already quoted"', "network": "CAN_HS",
        "frame_format": "CAN STANDARD", "note": 'a "b" \\ c', "count": "12", "file_checksum": "0x0"})
    binary = block(0x08020000, b"\x01\x02") + block(0x10, b"")
    assert blob == ("vbf_version = 2.6;\n\nheader {\n"
                    '    sw_part_number = "32212345";\n'
                    "    sw_part_type = EXE;\n"
                    "    ecu_address = 0x7A1;\n"
                    "    erase = {{0x08020000,0x2}};\n"
                    '    description = "already quoted";\n'
                    "    network = CAN_HS;\n"
                    '    frame_format = "CAN STANDARD";\n'      # an enumeration value with a space is quoted
                    '    note = "a \\"b\\" \\\\ c";\n'
                    '    count = "12";\n'                        # a decimal is no 0x number: quoted
                    f"    file_checksum = 0x{zlib.crc32(binary):08X};\n"
                    "}").encode("latin-1") + binary
    img = load_vbf(blob, "w.vbf")
    assert img.diagnostics == () and img.metadata["note"] == 'a "b" \\ c'
    assert img.metadata["frame_format"] == "CAN STANDARD"


def test_writer_version_and_latin1() -> None:
    blob = write_vbf([], {"vbf_version": "3.0", "name": "caf\xe9"})
    assert blob.startswith(b"vbf_version = 3.0;\n\nheader {\n    name = \"caf\xe9\";\n")
    assert load_vbf(blob, "w.vbf").metadata["vbf_version"] == "3.0"


@pytest.mark.parametrize(("blocks", "header", "message"), [
    ([(-1, b"")], {}, "block at -0x1 (0 bytes) does not fit VBF's 32-bit fields"),
    ([(0x100000000, b"a")], {}, "block at 0x100000000 (1 bytes) does not fit"),
    ([], {"1abc": "x"}, "bad VBF header key '1abc'"),
    ([], {"a-b": "x"}, "bad VBF header key 'a-b'"),
    ([], {"a b": "x"}, "bad VBF header key"),
    ([], {"": "x"}, "bad VBF header key ''"),
])
def test_writer_refuses(blocks: list[tuple[int, bytes]], header: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as e:
        write_vbf(blocks, header)
    assert message in str(e.value)


def test_writer_accepts_the_edges() -> None:
    blob = write_vbf([(0, b""), (0xFFFFFFFF, b"z")], {"_a": "1", "Z9_": "2"})
    img = load_vbf(blob, "w.vbf")
    assert [s.address for s in img.segments] == [0, 0xFFFFFFFF] and img.metadata["_a"] == "1"


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf", b"  \r\n\t"])
def test_detected_after_a_bom_or_white_space(prefix: bytes) -> None:
    assert detect(prefix + vbf("a = 1;")) is ImageFormat.VBF


def test_not_detected_elsewhere() -> None:
    assert detect(b"xx vbf_version = 2.6;") is not ImageFormat.VBF
