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
