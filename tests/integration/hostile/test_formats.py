"""Hostile image formats: bounded time and memory, clear errors."""

from __future__ import annotations

from pathlib import Path

from .runner import MiB, run_cli, store_env


def test_vbf_header_with_one_repeated_key_is_linear(tmp_path: Path) -> None:
    body = b"a = 1;" * (4 * 1024 * 1024 // 6)
    f = tmp_path / "rep.vbf"
    f.write_bytes(b"vbf_version = 2.6; header { " + body + b" }" + b"\0" * 10)
    run = run_cli(["scan", "--json", str(f)], timeout=60, env=store_env(tmp_path))
    assert not run.timed_out, str(run)
    assert "Traceback" not in run.stderr, str(run)
    assert run.seconds < 12, str(run)  # 23 s before the fix, about 4 s after on a 2-core CI machine
    assert run.peak_rss < 700 * MiB, str(run)


def _one_byte_records(n: int) -> bytes:
    """Intel HEX of ``n`` one-byte data records at consecutive addresses (with 04 records)."""
    lines = []
    for addr in range(n):
        if addr % 0x10000 == 0:
            hi = addr >> 16
            lines.append(f":02000004{hi:04X}{(-(2 + 4 + (hi >> 8) + (hi & 0xFF))) & 0xFF:02X}")
        lo = addr & 0xFFFF
        value = addr & 0xFF
        lines.append(f":01{lo:04X}00{value:02X}{(-(1 + (lo >> 8) + (lo & 0xFF) + value)) & 0xFF:02X}")
    lines.append(":00000001FF")
    return ("\n".join(lines) + "\n").encode()


def test_intel_hex_of_one_byte_records_stays_near_its_size(tmp_path: Path) -> None:
    f = tmp_path / "tiny-records.hex"
    f.write_bytes(_one_byte_records(4_000_000))  # 4M records, 52 MB of text, 4 MB of data
    size = f.stat().st_size
    run = run_cli(["scan", "--json", str(f)], timeout=240, env=store_env(tmp_path))
    assert run.returncode == 0 and "Traceback" not in run.stderr, str(run)
    # the interpreter and libraries take ~150 MiB; bincopy records took ~22x the file (1.1 GiB here)
    assert run.peak_rss < 200 * MiB + 2 * size, str(run)
    assert '"format": "ihex"' in run.stdout
