"""Intel HEX and S-record decoding, record type by record type, with the errors a user reads.

Records are encoded here by hand from the formats' published layouts (byte count, address,
type, data, checksum), independently of the decoder under test; each case was a planted bug the
rest of the suite let through (tests/benchmarks/bench_mutation.py)."""

from __future__ import annotations

import pytest

from ecuscan.errors import FormatError, LimitExceeded
from ecuscan.formats.hexsrec import load_hexsrec
from ecuscan.limits import Limits
from ecuscan.model import ImageFormat, Severity


def ihex(rtype: int, address: int, data: bytes) -> bytes:
    body = bytes([len(data), address >> 8 & 0xFF, address & 0xFF, rtype]) + data
    return b":" + (body + bytes([-sum(body) & 0xFF])).hex().upper().encode() + b"\n"


def srec(kind: int, address: int, data: bytes) -> bytes:
    width = {0: 2, 1: 2, 2: 3, 3: 4, 5: 2, 6: 3, 7: 4, 8: 3, 9: 2}[kind]
    body = bytes([width + len(data) + 1]) + address.to_bytes(width, "big") + data
    return f"S{kind}".encode() + (body + bytes([~sum(body) & 0xFF])).hex().upper().encode() + b"\n"


EOF = ihex(1, 0, b"")


def error_of(text: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(FormatError) as err:
        load_hexsrec(text, "fw/app.hex", **({"limits": limits} if limits else {}))
    return str(err.value)


def test_extended_segment_and_linear_addresses_move_the_data() -> None:
    img = load_hexsrec(ihex(2, 0, b"\x10\x00") + ihex(0, 0x0010, b"\xaa\xbb") + EOF, "a.hex")
    assert [(s.address, s.size) for s in img.segments] == [(0x10010, 2)]  # segment 0x1000 * 16 + 0x10
    img = load_hexsrec(ihex(4, 0, b"\x08\x00") + ihex(0, 0x0100, b"\x01") + EOF, "a.hex")
    assert img.segments[0].address == 0x08000100
    both = ihex(4, 0, b"\x00\x01") + ihex(2, 0, b"\x00\x02") + ihex(0, 0, b"\x01") + EOF
    assert load_hexsrec(both, "a.hex").segments[0].address == 0x10000 + 0x20


def test_start_addresses_give_the_entry_point() -> None:
    img = load_hexsrec(ihex(0, 0, b"\x01") + ihex(3, 0, b"\x12\x34\x00\x10") + EOF, "a.hex")
    assert img.entry == 0x12340 + 0x10
    assert img.metadata["start_segment_address"] == "1234:0010"
    img = load_hexsrec(ihex(0, 0, b"\x01") + ihex(5, 0, b"\x08\x00\x04\x01") + EOF, "a.hex")
    assert img.entry == 0x08000401 and "start_segment_address" not in img.metadata


@pytest.mark.parametrize(("record", "message"), [
    (ihex(4, 0, b"\x08\x00\x00"), "line 2: bad Intel HEX record type 04 with 3 data bytes"),
    (ihex(2, 0, b"\x10"), "line 2: bad Intel HEX record type 02 with 1 data bytes"),
    (ihex(3, 0, b"\x12\x34"), "line 2: bad Intel HEX record type 03 with 2 data bytes"),
    (ihex(5, 0, b"\x08\x00\x04"), "line 2: bad Intel HEX record type 05 with 3 data bytes"),
    (ihex(6, 0, b""), "line 2: bad Intel HEX record type 06 with 0 data bytes"),
    (b"0400100001020304E2\n", "line 2: bad Intel HEX record: does not start with ':'"),
    (b":04001000010203G4E2\n", "line 2: bad Intel HEX record: not hex digits"),
    (b":0400100001020304\n", "line 2: bad Intel HEX record: 8 bytes for a byte count of 4"),
    (b":0400100001020304E3\n", "line 2: bad Intel HEX record: checksum mismatch"),
])
def test_intel_hex_errors_name_the_file_the_line_and_the_problem(record: bytes, message: str) -> None:
    text = error_of(ihex(0, 0, b"\x01") + record + EOF)
    assert text.startswith("fw/app.hex: " + message), text


def test_records_after_the_end_and_a_missing_end_are_diagnostics() -> None:
    img = load_hexsrec(ihex(0, 0, b"\x01") + EOF + ihex(0, 1, b"\x02"), "a.hex")
    [d] = img.diagnostics
    assert (d.code, d.severity, d.message) == ("ihex-after-eof", Severity.WARNING,
                                               "line 3: records after the end-of-file record ignored")
    assert img.data == b"\x01"
    img = load_hexsrec(ihex(0, 0, b"\x01"), "a.hex")
    assert [(d.code, d.severity) for d in img.diagnostics] == [("ihex-no-eof", Severity.INFO)]
    assert load_hexsrec(ihex(0, 0, b"\x01") + EOF, "a.hex").diagnostics == ()


def test_line_numbers_count_crlf_lines_once_and_skip_blank_ones() -> None:
    text = (ihex(0, 0, b"\x01") + b"\n" + ihex(0, 1, b"\x02") + b":0400100001020304E3\n").replace(b"\n", b"\r\n")
    assert "line 4: bad Intel HEX record: checksum mismatch" in error_of(text)


def test_runs_gaps_and_overlaps() -> None:
    img = load_hexsrec(ihex(0, 0x20, b"\x03\x04") + ihex(0, 0x10, b"\x01\x02") + ihex(0, 0x12, b"\x09")
                       + ihex(0, 0x11, b"\x02") + EOF, "a.hex")
    assert [(s.name, s.address, s.offset, s.size) for s in img.segments] == [
        ("run0", 0x10, 0, 3), ("run1", 0x20, 3, 2)]
    assert img.data == b"\x01\x02\x09\x03\x04" and img.metadata["gap_bytes"] == str(0x20 - 0x13)
    assert "gap_bytes" not in load_hexsrec(ihex(0, 0, b"\x01\x02") + EOF, "a.hex").metadata
    msg = error_of(ihex(0, 0x10, b"\x01\x02") + ihex(0, 0x11, b"\x07") + EOF)
    assert msg == "fw/app.hex: line 2: record at 0x11 overwrites different data written by an earlier record"


def test_empty_data_records_are_no_data() -> None:
    img = load_hexsrec(ihex(0, 0x40, b"") + ihex(0, 0, b"\x01") + EOF, "a.hex")
    assert [(s.address, s.size) for s in img.segments] == [(0, 1)]


def test_limits_are_named_in_the_error() -> None:
    with pytest.raises(LimitExceeded, match=r"^fw/app.hex: line 2: decoded payload exceeds max_decoded_bytes=2$"):
        load_hexsrec(ihex(0, 0, b"\x01\x02") + ihex(0, 2, b"\x03") + EOF, "fw/app.hex",
                     limits=Limits(max_decoded_bytes=2))
    with pytest.raises(LimitExceeded, match="more than max_segments=1 separate address runs"):
        load_hexsrec(ihex(0, 0, b"\x01") + ihex(0, 9, b"\x02") + EOF, "fw/app.hex", limits=Limits(max_segments=1))
    with pytest.raises(LimitExceeded, match=r"span 0x10001 bytes of address space, more than max_address_span=0x100"):
        load_hexsrec(ihex(0, 0, b"\x01") + ihex(4, 0, b"\x00\x01") + ihex(0, 0, b"\x02") + EOF, "fw/app.hex",
                     limits=Limits(max_address_span=0x100))


def test_srecord_widths_header_count_and_entry() -> None:
    text = (srec(0, 0, b"bcm app\0\0") + srec(1, 0x1000, b"\x01") + srec(2, 0x020000, b"\x02")
            + srec(3, 0x08000000, b"\x03") + srec(5, 3, b"") + srec(7, 0x08000401, b""))
    img = load_hexsrec(text, "a.srec")
    assert img.format is ImageFormat.SREC
    assert [(s.address, s.size) for s in img.segments] == [(0x1000, 1), (0x020000, 1), (0x08000000, 1)]
    assert img.metadata["srec_header"] == "bcm app" and img.entry == 0x08000401 and img.diagnostics == ()
    for kind, entry in ((8, 0x123456), (9, 0x1234)):
        assert load_hexsrec(srec(1, 0, b"\x01") + srec(kind, entry, b""), "a.srec").entry == entry


def test_srecord_count_records_are_checked() -> None:
    img = load_hexsrec(srec(1, 0, b"\x01") + srec(1, 1, b"\x02") + srec(5, 3, b"") + srec(9, 0, b""), "a.srec")
    [d] = img.diagnostics
    assert (d.code, d.message) == ("srec-count", "line 3: record count 3 but 2 data records precede it")
    assert load_hexsrec(srec(1, 0, b"\x01") + srec(6, 1, b"") + srec(9, 0, b""), "a.srec").diagnostics == ()
    img = load_hexsrec(srec(1, 0, b"\x01") + srec(6, 0x010001, b"") + srec(9, 0, b""), "a.srec")
    assert [d.code for d in img.diagnostics] == ["srec-count"]  # S6 counts in 24 bits, not 16
    # an empty data record is not counted
    assert load_hexsrec(srec(1, 0, b"") + srec(1, 0, b"\x01") + srec(5, 1, b"") + srec(9, 0, b""),
                        "a.srec").diagnostics == ()


@pytest.mark.parametrize(("record", "message"), [
    (b"S4030000FC\n", "line 2: bad S-record: does not start with S0-S3 or S5-S9"),
    (b"S1030000GC\n", "line 2: bad S-record: not hex digits"),
    (b"S1050000010203F6\n", "line 2: bad S-record: 7 bytes for a byte count of 5"),
    (b"S104000001FB\n", "line 2: bad S-record: checksum mismatch"),
])
def test_srecord_errors_name_the_file_the_line_and_the_problem(record: bytes, message: str) -> None:
    text = error_of(srec(1, 0, b"\x01") + record)
    assert text.startswith("fw/app.hex: " + message), text


def test_what_is_neither_is_refused_by_name() -> None:
    assert error_of(b"hello world\n") == "fw/app.hex: not an Intel HEX or S-record file"
