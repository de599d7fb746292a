"""Intel HEX / S-record loader tests, including the bare-metal corpus cross-check against the ELF."""

from __future__ import annotations

import os
from pathlib import Path

import bincopy
import pytest

from ecuscan.errors import FormatError, LimitExceeded
from ecuscan.formats import detect, load
from ecuscan.formats.hexsrec import load_hexsrec
from ecuscan.limits import Limits
from ecuscan.model import ImageFormat

CORPUS_FW = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache/ecuscan/dev-corpus")) / "fw"

BLOCK_A = bytes(range(256)) * 2  # 512 bytes at 0x08000000
BLOCK_B = b"calibration-data" * 4  # 64 bytes at 0x08010000 (gap before)


def _binfile() -> bincopy.BinFile:
    bf = bincopy.BinFile()
    bf.add_binary(BLOCK_A, address=0x08000000)
    bf.add_binary(BLOCK_B, address=0x08010000)
    bf.execution_start_address = 0x08000101
    return bf


@pytest.mark.parametrize("fmt", ["ihex", "srec"])
def test_runs_offsets_entry(fmt: str) -> None:
    bf = _binfile()
    text = (bf.as_ihex() if fmt == "ihex" else bf.as_srec()).encode()
    assert detect(text).value == fmt
    img = load(text, f"demo.{fmt}")
    assert img.format.value == fmt
    assert img.data == BLOCK_A + BLOCK_B
    assert [(s.address, s.offset, s.size) for s in img.segments] == [
        (0x08000000, 0, len(BLOCK_A)), (0x08010000, len(BLOCK_A), len(BLOCK_B))]
    assert img.entry == 0x08000101
    assert img.address_of(len(BLOCK_A) + 3) == 0x08010003
    assert img.segments[0].file_offset is None
    assert img.metadata["gap_bytes"] == str(0x10000 - len(BLOCK_A))


def test_out_of_order_records_are_merged() -> None:
    lines = _binfile().as_ihex().splitlines()
    data_lines = [ln for ln in lines if ln[7:9] == "00"]
    header, tail = lines[0], lines[-2:]  # extended address record; start address + EOF
    first_block = data_lines[: len(BLOCK_A) // 32]  # bincopy writes 32 data bytes per record
    reordered = "\n".join([header, *reversed(first_block), *tail]) + "\n"
    img = load_hexsrec(reordered.encode(), "rev.hex")
    assert img.data == BLOCK_A
    assert len(img.segments) == 1


def test_checksum_error_names_line() -> None:
    lines = _binfile().as_srec().splitlines()
    bad = lines[3][:-2] + ("00" if lines[3][-2:] != "00" else "01")
    lines[3] = bad
    with pytest.raises(FormatError) as exc:
        load("\n".join(lines).encode(), "bad.srec")
    assert "bad.srec" in str(exc.value) and "line 4" in str(exc.value)


def test_conflicting_overlap_refused() -> None:
    a = bincopy.BinFile()
    a.add_binary(b"\x01" * 16, address=0x100)
    b = bincopy.BinFile()
    b.add_binary(b"\x02" * 16, address=0x108)
    text = a.as_ihex().replace(":00000001FF\n", "") + b.as_ihex()
    with pytest.raises(FormatError, match="overwrites"):
        load_hexsrec(text.encode(), "ovl.hex")
    same = a.as_ihex().replace(":00000001FF\n", "") + a.as_ihex()
    assert load_hexsrec(same.encode(), "dup.hex").data == b"\x01" * 16


def test_limits() -> None:
    text = _binfile().as_ihex().encode()
    with pytest.raises(LimitExceeded, match="max_decoded_bytes"):
        load_hexsrec(text, "big.hex", limits=Limits(max_decoded_bytes=100))
    with pytest.raises(LimitExceeded, match="max_address_span"):
        load_hexsrec(text, "wide.hex", limits=Limits(max_address_span=0x1000))
    with pytest.raises(LimitExceeded, match="max_segments"):
        load_hexsrec(text, "gaps.hex", limits=Limits(max_segments=1))


def test_garbage_line_and_missing_eof() -> None:
    with pytest.raises(FormatError, match="line 2"):
        load_hexsrec(b":0400100001020304E2\nhello\n", "g.hex")
    img = load_hexsrec(b":0400100001020304E2\n", "noeof.hex")
    assert [d.code for d in img.diagnostics] == ["ihex-no-eof"]


def _payload_at(img, address: int, size: int) -> bytes | None:
    """The image's bytes at [address, address+size), across adjacent segments; None if not all mapped."""
    runs: list[tuple[int, bytearray]] = []
    for seg in sorted(img.segments, key=lambda s: s.address):
        chunk = bytes(img.data[seg.offset:seg.offset + seg.size])
        if runs and runs[-1][0] + len(runs[-1][1]) == seg.address:
            runs[-1][1].extend(chunk)
        else:
            runs.append((seg.address, bytearray(chunk)))
    for start, buf in runs:
        if start <= address and address + size <= start + len(buf):
            return bytes(buf[address - start:address - start + size])
    return None


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["tcu_m4_debug", "gw_m7_verstr", "ecu_m33_nover"])
def test_corpus_payloads_match_elf(name: str) -> None:
    elf_path = CORPUS_FW / f"{name}.elf"
    if not elf_path.exists():
        pytest.skip(f"development corpus not present ({elf_path})")
    elf = load(elf_path.read_bytes(), str(elf_path))
    assert elf.format is ImageFormat.ELF and elf.arch == "arm" and elf.metadata.get("isa") == "thumb"
    for ext in ("hex", "srec"):
        img = load((CORPUS_FW / f"{name}.{ext}").read_bytes(), f"{name}.{ext}")
        assert img.entry == elf.entry
        total = 0
        for seg in img.segments:
            # every byte of every HEX/S-record run lies in a PT_LOAD of the ELF, with the same value
            assert _payload_at(elf, seg.address, seg.size) == bytes(img.data[seg.offset:seg.offset + seg.size])
            total += seg.size
        assert total >= sum(s.size for s in elf.segments) - 64  # only alignment padding may be missing
    # objcopy -O binary: the flash image from the lowest LMA, gaps zero-filled
    binary = (CORPUS_FW / f"{name}.bin").read_bytes()
    raw = load(binary, f"{name}.bin", base_address=min(s.address for s in elf.segments))
    for seg in elf.segments:
        assert _payload_at(raw, seg.address, seg.size) == bytes(elf.data[seg.offset:seg.offset + seg.size])


@pytest.mark.parametrize("fmt", ["ihex", "srec"])
def test_reversed_one_byte_records_merge_into_one_run_within_max_segments(fmt: str) -> None:
    """Thousands of out-of-order records are merged as they come (runs never exceed twice
    max_segments), and the result equals what bincopy assembles from the same file."""
    payload = bytes((i * 7) & 0xFF for i in range(5000))
    bf = bincopy.BinFile()
    bf.add_binary(payload, address=0x2000)
    text = bf.as_ihex(number_of_data_bytes=1) if fmt == "ihex" else bf.as_srec(number_of_data_bytes=1)
    lines = text.splitlines()
    data_lines = [ln for ln in lines if (ln[7:9] == "00" if fmt == "ihex" else ln[:2] in ("S1", "S2", "S3"))]
    other = [ln for ln in lines if ln not in set(data_lines)]
    if fmt == "ihex":
        head, tail = [ln for ln in other if ln[7:9] == "04"], [ln for ln in other if ln[7:9] != "04"]
    else:
        head, tail = [ln for ln in other if ln.startswith("S0")], [ln for ln in other if ln[:2] in ("S7", "S8", "S9")]
    shuffled = "\n".join([*head, *reversed(data_lines), *tail]) + "\n"
    img = load_hexsrec(shuffled.encode(), f"rev.{fmt}", limits=Limits(max_segments=8))
    assert img.data == payload
    assert [(s.address, s.size) for s in img.segments] == [(0x2000, len(payload))]
    assert not [d for d in img.diagnostics if d.severity.value != "info"]
